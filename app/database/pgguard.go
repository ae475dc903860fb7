package database

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/uptrace/bun/driver/pgdriver"
)

// pgdriver closes a connection whose plain query failed on the wire, but not
// one whose prepared statement did (PrepareContext, and a statement's
// ExecContext and QueryContext). A statement cut off by a timeout or a
// request's deadline then goes back to the pool with the server's replies
// still unread, and the next request on that connection reads them and fails
// with "unexpected message" (a 500). These wrappers close the connection on
// any such failure, so the pool drops it. An error the server sent (a
// pgdriver.Error) leaves the protocol in step and the connection open.

// guardedConnector hands out guarded connections. Driver stays pgdriver's
// (embedded), which pgdriver.Listener needs.
type guardedConnector struct {
	*pgdriver.Connector
}

func (c guardedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &guardedConn{Conn: cn.(*pgdriver.Conn)}, nil
}

type guardedConn struct {
	*pgdriver.Conn
}

func (cn *guardedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := cn.Conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, cn.failed(err)
	}
	return &guardedStmt{Stmt: st, cn: cn}, nil
}

// failed closes the connection unless err came from the server, and returns
// err unchanged.
func (cn *guardedConn) failed(err error) error {
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) {
		_ = cn.Conn.Close()
	}
	return err
}

type guardedStmt struct {
	driver.Stmt
	cn *guardedConn
}

func (s *guardedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	res, err := s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil {
		return nil, s.cn.failed(err)
	}
	return res, nil
}

func (s *guardedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, s.cn.failed(err)
	}
	return rows, nil
}
