package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/todo-app/todo/app/bench"
)

// defaultWSRate is --rate with --ws when it is not given.
const defaultWSRate = 200

func newBenchCmd() *cobra.Command {
	var (
		url             string
		users, tasks    int
		concurrency     int
		duration        time.Duration
		warmup          time.Duration
		opName, mixSpec string
		seedConcurrency int
		timeout         time.Duration
		pid             int
		asJSON          bool
		ws, idle        bool
		conns           int
		rate            float64
		sample          time.Duration
		deliveryTimeout time.Duration
		baseline        bool
		compare         bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a running server (HTTP operations or WebSocket delivery)",
		Long: `bench load-tests a running todo server through its API, with nothing but this
binary. It signs up --users accounts (bench-<random>-<n>@bench.invalid, random
password, Bearer tokens), seeds --tasks tasks for each, then runs --concurrency
clients for --duration (after --warmup, which is driven but not counted). Each
client is bound to one user (round robin) and sends its next request as soon as
the last one is answered (a closed loop; see --rate). It prints, per operation:
requests, requests per second, mean/p50/p95/p99/max latency and errors by
status or kind; with --pid, the server's resident memory before and after (read
from /proc, so Linux and the same machine only).

--rate R makes the load open-loop: R requests per second are due over all
clients, evenly spaced, whether or not the server keeps up, so load can be
offered above capacity (say twice what a closed-loop run measured) without the
clients slowing down with the server. A free client takes the next request due;
one that comes due while all --concurrency clients are busy (and no client
frees up within 1ms) is dropped by the client and reported as such, apart from
the errors. Latency counts from each request's scheduled time, so a server
that falls behind shows it in the percentiles (no coordinated omission).
--concurrency bounds the requests in flight, so give enough clients for the
rate at the latency you expect (rate x latency).

--sample D records, every D of the measured time and at its end, the server's
RSS (with --pid) and the cumulative requests, errors and 5xx answers: a table
in the text output, "samples" in --json. For soak runs: memory over time.

Operations (--op):
  list      GET /api/tasks?limit=20
  get       GET /api/tasks/{id} of one of the user's tasks
  create    POST /api/tasks
  update    PATCH /api/tasks/{id} with a new title
  complete  PATCH /api/tasks/{id}/complete of a pending task the client created
  delete    DELETE /api/tasks/{id} of a task the client created
  stats     GET /api/dashboard/stats
  overview  GET /api/dashboard/overview
  session   GET /api/auth/session
  mix       a weighted mix, --mix (default ` + bench.DefaultMix + `)
complete and delete create the task they need first when the client has none;
those creations are shown as create(setup).

The server must not rate-limit the load: run it with ratelimit.enabled=false
(TODO_RATELIMIT_ENABLED=false), and with open sign-up. bench stops with a clear
message when set-up meets a 429. The accounts and tasks it creates stay in the
database; use a scratch database.

--ws holds --conns WebSocket connections to /api/ws spread over --users users,
waits for every hello and reports memory per connection (server RSS growth with
--pid, and this process's own heap); then, unless --idle, it creates tasks at
--rate per second for --duration and reports the delay from sending each POST
to the task.created message on every socket of its user (p50/p99/max) and how
many deliveries missed --delivery-timeout. bench raises its own open-file
limit to the hard limit; for 10,000 sockets the server needs the same
(ulimit -n 65536 before todo serve, or LimitNOFILE=65536 in its systemd unit).

--baseline drives a minimal in-process Fiber server (one route answering
{"ok":true,"n":42}) with the same clients and timings instead, the ceiling that
the framework, the network stack and this generator allow on the machine.
--compare-baseline runs it right after the main run and prints the ratios.
The baseline always runs a closed loop, without --rate or --sample.
Client and server share the CPUs when both run on one machine; say so when
quoting numbers.`,
		Example: `  TODO_RATELIMIT_ENABLED=false todo serve --database-url sqlite:///tmp/bench.db &
  todo bench --url http://127.0.0.1:8080 --op list --duration 10s --pid $!
  todo bench --users 10 --tasks 1000 --concurrency 32 --op mix --mix list=40,get=30,create=10,update=10,stats=5,session=5
  todo bench --op list --compare-baseline --json > list.json
  todo bench --baseline --concurrency 32 --duration 10s
  todo bench --ws --users 100 --conns 10000 --rate 200 --duration 30s --pid $!
  todo bench --ws --conns 1000 --idle --pid $!
  todo bench --op list --concurrency 64 --rate 8000 --duration 30s      # open loop
  todo bench --op mix --concurrency 16 --duration 10m --sample 30s --pid $!  # soak`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if ws {
				for _, name := range []string{"op", "mix", "baseline", "compare-baseline", "tasks", "concurrency", "warmup", "sample"} {
					if fs.Changed(name) {
						return fmt.Errorf("--%s does not apply to --ws", name)
					}
				}
				if !fs.Changed("rate") {
					rate = defaultWSRate
				}
			} else {
				for _, name := range []string{"conns", "idle", "delivery-timeout"} {
					if fs.Changed(name) {
						return fmt.Errorf("--%s applies only with --ws", name)
					}
				}
				if baseline && (fs.Changed("rate") || fs.Changed("sample")) {
					return errors.New("--rate and --sample do not apply to --baseline, which measures the closed-loop ceiling")
				}
			}
			if baseline && compare {
				return errors.New("--baseline and --compare-baseline exclude each other")
			}
			mix, err := benchMix(opName, mixSpec, fs.Changed("mix"))
			if err != nil {
				return err
			}
			if url == "" && !baseline {
				cfg, err := loadConfig(cmd, nil)
				if err != nil {
					return err
				}
				url = localURL(cfg.Server.Addr)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stderr := cmd.ErrOrStderr()
			tty := false
			if f, ok := stderr.(*os.File); ok {
				tty = term.IsTerminal(int(f.Fd()))
			}
			prog := bench.NewProgress(stderr, tty)

			var res bench.Result
			if ws {
				rep, err := bench.RunWS(ctx, bench.WSOptions{URL: url, Users: users, Conns: conns, Idle: idle,
					Rate: rate, Duration: duration, DeliveryTimeout: deliveryTimeout,
					DialConcurrency: seedConcurrency, Timeout: timeout, PID: pid, Progress: prog})
				if err != nil {
					return err
				}
				res.WS = rep
			} else {
				o := bench.Options{URL: url, Users: users, Tasks: tasks, Concurrency: concurrency,
					Duration: duration, Warmup: warmup, Mix: mix, SeedConcurrency: seedConcurrency,
					Timeout: timeout, PID: pid, Rate: rate, Sample: sample, Progress: prog}
				if !baseline {
					if res.HTTP, err = bench.Run(ctx, o); err != nil {
						return err
					}
				}
				if (baseline || compare) && ctx.Err() == nil {
					if res.Baseline, err = bench.RunBaseline(ctx, o); err != nil {
						return err
					}
				}
				if compare && res.HTTP != nil && res.Baseline != nil {
					res.Ratios = bench.Ratios(res.HTTP, res.Baseline)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return res.WriteJSON(out)
			}
			return res.WriteText(out)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&url, "url", "", "the server's base URL (default: derived from server.addr, like todo health)")
	fs.IntVar(&users, "users", 10, "accounts to sign up; clients (or sockets) are spread over them")
	fs.IntVar(&tasks, "tasks", 1000, "tasks to seed per user before the run")
	fs.IntVar(&concurrency, "concurrency", 32, "concurrent clients, each with one request in flight")
	fs.DurationVar(&duration, "duration", 10*time.Second, "measured run time (with --ws: how long changes are made)")
	fs.DurationVar(&warmup, "warmup", 2*time.Second, "time driven but not measured, before --duration")
	fs.StringVar(&opName, "op", "mix", "operation: list, get, create, update, complete, delete, stats, overview, session, login or mix")
	fs.StringVar(&mixSpec, "mix", bench.DefaultMix, "weights for --op mix, op=weight,...")
	fs.IntVar(&seedConcurrency, "seed-concurrency", 8, "workers for sign-up and seeding (with --ws: sockets opened at once)")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "limit for one request or WebSocket handshake")
	fs.IntVar(&pid, "pid", 0, "the server's process id, to report its memory (Linux, same machine)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document instead of tables")
	fs.BoolVar(&ws, "ws", false, "WebSocket mode: hold --conns sockets and time the delivery of changes")
	fs.IntVar(&conns, "conns", 100, "with --ws: sockets to hold")
	fs.BoolVar(&idle, "idle", false, "with --ws: only open the sockets and report memory, make no changes")
	fs.Float64Var(&rate, "rate", 0, "requests per second over all clients, open loop (0: closed loop); with --ws: task changes per second, spread over the users (default 200)")
	fs.DurationVar(&sample, "sample", 0, "record the server's RSS (with --pid) and the cumulative 5xx count every interval, e.g. 30s (0: off)")
	fs.DurationVar(&deliveryTimeout, "delivery-timeout", 5*time.Second, "with --ws: a message later than this counts as missed")
	fs.BoolVar(&baseline, "baseline", false, "drive a minimal in-process Fiber server instead of --url")
	fs.BoolVar(&compare, "compare-baseline", false, "after the run, drive the baseline too and print req/s ratios")
	return cmd
}

// benchMix turns --op and --mix into the mix to run.
func benchMix(op, spec string, mixGiven bool) (bench.Mix, error) {
	if op == "mix" {
		return bench.ParseMix(spec)
	}
	if mixGiven {
		return bench.Mix{}, fmt.Errorf("--mix needs --op mix (got --op %s)", op)
	}
	o, err := bench.ParseOp(op)
	if err != nil {
		return bench.Mix{}, err
	}
	return bench.SingleOp(o), nil
}
