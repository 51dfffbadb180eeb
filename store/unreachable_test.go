package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// Failures of a request on a working database are not outages. (Real outage errors, from
// killing PostgreSQL, are checked in store/pgserver's supervision test.)
func TestUnreachableOnlyForOutages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{pgx.ErrNoRows, false},
		{&pgconn.PgError{Code: "23505"}, false}, // unique violation
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: "22021"}), false}, // bad byte sequence
		{domain.ErrNotFound, false},
		{context.Canceled, false},
		{errors.New("something else"), false},
		{fmt.Errorf("list: %w", &pgconn.PgError{Code: "57P01"}), true}, // admin shutdown
		{&pgconn.PgError{Code: "57P03"}, true},                         // starting up
		{&pgconn.PgError{Code: "08006"}, true},                         // connection failure
	} {
		if got := store.Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A pool to a closed port fails with a connect error, which is an outage.
	conn, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:1/x?connect_timeout=2")
	if err == nil {
		_ = conn.Close(context.Background())
		t.Fatal("connected to port 1")
	}
	if !store.Unreachable(err) {
		t.Errorf("connect error not an outage: %v", err)
	}
}
