package pgbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/realtime/pgbus"
)

// BenchmarkPublishParallel publishes a small event from many goroutines at
// once, as concurrent requests do, with the bus listening.
func BenchmarkPublishParallel(b *testing.B) {
	db := dbtest.Open(b, database.Postgres)
	bus := pgbus.New(db.Write, pgbus.Options{Channel: "bench_publish"})
	select {
	case <-listen(b, bus, func([]byte) {}):
	case <-time.After(10 * time.Second):
		b.Fatal("bus not listening within 10s")
	}
	payload := []byte(`{"k":"event","u":"0196f2b4-7c1e-7a3b-9f10-2d4e6a8b0c1d","t":"task.created","id":12345,"v":1,"at":1733300000000,"d":{"id":12345,"title":"Buy milk","done":false,"version":1}}`)
	// Many more publishers than cores, like concurrent requests.
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bus.Publish(context.Background(), payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
