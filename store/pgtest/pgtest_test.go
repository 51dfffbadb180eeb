package pgtest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { Main(m) }

func currentDB(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var name string
	if err := pool.QueryRow(context.Background(), "select current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func countPeople(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "select count(*) from people").Scan(&n); err != nil {
		t.Fatalf("people table: %v", err)
	}
	return n
}

func addPerson(t *testing.T, pool *pgxpool.Pool, email string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), "insert into people (email) values ($1)", email); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaIsMigrated(t *testing.T) {
	t.Parallel()
	pool := New(t)
	if n := countPeople(t, pool); n != 0 {
		t.Fatalf("%d people in a fresh database", n)
	}
}

func TestEachCallGetsItsOwnDatabase(t *testing.T) {
	t.Parallel()
	a, b := New(t), New(t)
	if da, db := currentDB(t, a), currentDB(t, b); da == db || !strings.HasPrefix(da, "t_") {
		t.Fatalf("databases %q and %q", da, db)
	}
	addPerson(t, a, "ana@example.org")
	if n := countPeople(t, b); n != 0 {
		t.Fatalf("other database sees %d people", n)
	}
}

// The same row in two parallel tests: a shared database would break the unique index or
// count two.
func TestIsolationA(t *testing.T) { t.Parallel(); isolated(t) }
func TestIsolationB(t *testing.T) { t.Parallel(); isolated(t) }

func isolated(t *testing.T) {
	pool := New(t)
	addPerson(t, pool, "same@example.org")
	if n := countPeople(t, pool); n != 1 {
		t.Fatalf("%d people, want 1", n)
	}
}

// The database goes at cleanup, even with a connection the test forgot to close.
func TestNewURLDroppedAtCleanup(t *testing.T) {
	ctx := context.Background()
	var name string
	var leaked *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, NewURL(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "select current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		leaked = conn
	})
	defer func() { _ = leaked.Close(ctx) }()
	base, err := serverURL()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(ctx) }()
	if ok, err := databaseExists(ctx, admin, name); err != nil || ok {
		t.Fatalf("database %s still exists (%v)", name, err)
	}
}

func TestTemplateIsMarked(t *testing.T) {
	t.Parallel()
	New(t)
	pool := New(t)
	name, err := templateName()
	if err != nil {
		t.Fatal(err)
	}
	var isTemplate bool
	err = pool.QueryRow(context.Background(), "select datistemplate from pg_database where datname = $1", name).Scan(&isTemplate)
	if err != nil || !isTemplate {
		t.Fatalf("template %s: datistemplate %v, %v", name, isTemplate, err)
	}
}

// Several processes building the same template at once (simulated with connections of
// their own): one builds, all get it, nothing half-made remains.
func TestConcurrentTemplateBuild(t *testing.T) {
	ctx := context.Background()
	base, err := serverURL()
	if err != nil {
		t.Fatal(err)
	}
	name := "puente_tmpl_test_" + randomHex(4) // not the real one: other packages may be cloning it
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			conn, err := pgx.Connect(ctx, base)
			if err != nil {
				errs[i] = err
				return
			}
			defer func() { _ = conn.Close(ctx) }()
			errs[i] = ensureTemplate(ctx, conn, base, name)
		})
	}
	wg.Wait()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a deferred Close would run first
		defer func() { _ = admin.Close(ctx) }()
		for _, sql := range []string{"ALTER DATABASE " + ident(name) + " IS_TEMPLATE false", "DROP DATABASE " + ident(name)} {
			if _, err := admin.Exec(ctx, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("builder %d: %v", i, err)
		}
	}
	var names []string
	rows, _ := admin.Query(ctx, "select datname from pg_database where datname like $1", name+"%")
	names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) != 1 || names[0] != name {
		t.Fatalf("databases %v (%v), want just %s", names, err, name)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/postgres?sslmode=disable":       "postgres://u:p@h:5432/t_1?sslmode=disable",
		"postgresql://h/postgres?dbname=other&sslmode=disable": "postgresql://h/t_1?sslmode=disable",
		"host=/run/pg port=5432 user=postgres dbname=postgres": "host=/run/pg port=5432 user=postgres dbname=postgres dbname=t_1",
		"host='/srv/my data' user=postgres":                    "host='/srv/my data' user=postgres dbname=t_1",
	} {
		got, err := withDatabase(in, "t_1")
		if err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNoServerMessage(t *testing.T) {
	t.Setenv(envTestURL, "")
	t.Setenv("DATABASE_URL", "")
	_, err := serverURL()
	if err == nil || !strings.Contains(err.Error(), "pgtest.Main") {
		t.Fatalf("err = %v, want a hint to call Main", err)
	}
}
