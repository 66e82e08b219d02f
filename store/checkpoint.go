package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"

	"github.com/mattn/go-sqlite3"
)

// SQLite copies the write-ahead log back into the database (a
// checkpoint, with its fsync) in whichever commit finds the log long
// enough: the intake's commits waited for it. The main database's writer
// does no checkpoints; the checkpointer does them on a connection of its
// own, in the background, a little after writes, so that readers and
// writers go on meanwhile (PASSIVE). (The spool keeps a rollback journal:
// it has no log to checkpoint.)

// writerDB opens the one writer connection of a database file, with
// automatic checkpoints off.
func writerDB(dsn string) *sql.DB {
	d := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	}}
	return sql.OpenDB(connector{driver: d, dsn: dsn})
}

// connector opens connections of one driver to one DSN.
type connector struct {
	driver *sqlite3.SQLiteDriver
	dsn    string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.driver }

// checkpointDelay gathers the writes of a busy moment into one
// checkpoint.
const checkpointDelay = 50 * time.Millisecond

// checkpointer checkpoints the databases after writes, until stopped.
type checkpointer struct {
	dbs     []*sql.DB // checkpoint connections, one per file
	written chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newCheckpointer(dbs ...*sql.DB) *checkpointer {
	c := &checkpointer{dbs: dbs, written: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	for _, db := range dbs {
		db.SetMaxOpenConns(1)
	}
	go c.run()
	return c
}

// wrote tells the checkpointer a transaction was committed.
func (c *checkpointer) wrote() {
	select {
	case c.written <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.written:
		}
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointDelay):
		}
		for _, db := range c.dbs {
			// A checkpoint that cannot finish (a reader holds an old
			// snapshot) is done again after the next write; its error
			// changes nothing for the data.
			_, _ = db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close stops the checkpointer and closes its connections. The last
// connection to close checkpoints what is left.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	var first error
	for _, db := range c.dbs {
		if err := db.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
