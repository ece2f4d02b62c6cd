package policy

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	gormadapter "github.com/casbin/gorm-adapter/v3"
	"gorm.io/gorm"
)

// casbinTable is gorm-adapter's table for policy lines.
const casbinTable = "casbin_rule"

// dbLayer keeps the database layer of the policy in gorm-adapter's table.
type dbLayer struct {
	gdb *gorm.DB
	a   *gormadapter.Adapter
}

func openDBLayer(db *gorm.DB) (*dbLayer, error) {
	a, err := gormadapter.NewAdapterByDBUseTableName(db, "", casbinTable)
	if err != nil {
		return nil, fmt.Errorf("policy: preparing table %s: %w", casbinTable, err)
	}
	return &dbLayer{gdb: db, a: a}, nil
}

// load reads every database line.
func (d *dbLayer) load(ctx context.Context) (keySet, error) { return d.loadFrom(ctx, d.gdb) }

// loadFrom reads every database line through db, as line keys. It scans
// gorm-adapter's table directly rather than through the adapter's
// LoadPolicy, which would build Casbin's in-memory model (about 880 bytes
// per line); each row becomes one string.
func (d *dbLayer) loadFrom(ctx context.Context, db *gorm.DB) (keySet, error) {
	rows, err := db.WithContext(ctx).Raw("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM " + casbinTable + " ORDER BY id").Rows()
	if err != nil {
		return nil, fmt.Errorf("policy: loading %s: %w", casbinTable, err)
	}
	defer rows.Close()
	keys := keySet{}
	var cols [7]sql.RawBytes
	dst := make([]any, len(cols))
	for i := range cols {
		dst[i] = &cols[i]
	}
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("policy: loading %s: %w", casbinTable, err)
		}
		n := len(cols)
		for n > 1 && len(cols[n-1]) == 0 {
			n--
		}
		if len(cols[0]) == 0 || n == 1 {
			continue
		}
		buf = append(buf[:0], cols[0]...)
		for _, c := range cols[1:n] {
			buf = append(buf, 0)
			buf = append(buf, c...)
		}
		keys[string(buf)] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policy: loading %s: %w", casbinTable, err)
	}
	return keys, nil
}

// persist writes line changes through an adapter bound to transaction tx.
func (d *dbLayer) persist(ctx context.Context, tx *gorm.DB, add, del []Line) error {
	if len(add) == 0 && len(del) == 0 {
		return nil
	}
	txdb := tx.WithContext(ctx)
	gormadapter.TurnOffAutoMigrate(txdb) // the table exists; don't migrate inside a transaction
	a, err := gormadapter.NewAdapterByDBUseTableName(txdb, "", casbinTable)
	if err != nil {
		return err
	}
	for _, l := range del {
		if err := a.RemovePolicy(l.Ptype[:1], l.Ptype, l.Fields); err != nil {
			return fmt.Errorf("policy: removing %s: %w", l.String(), err)
		}
	}
	for _, l := range add {
		if err := a.AddPolicy(l.Ptype[:1], l.Ptype, l.Fields); err != nil {
			return fmt.Errorf("policy: adding %s: %w", l.String(), err)
		}
	}
	return nil
}

// rowID finds the id of the row that holds l, for a message about it.
func (d *dbLayer) rowID(l Line) (int64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q := d.gdb.WithContext(ctx).Table(casbinTable).Select("id").Where("ptype = ?", l.Ptype)
	for i := 0; i < 6; i++ {
		if i < len(l.Fields) {
			q = q.Where(fmt.Sprintf("v%d = ?", i), l.Fields[i])
		} else {
			q = q.Where(fmt.Sprintf("(v%d = '' OR v%d IS NULL)", i, i)) // gorm-adapter writes "", other tools NULL
		}
	}
	var id int64
	if err := q.Limit(1).Scan(&id).Error; err != nil || id == 0 {
		return 0, false
	}
	return id, true
}
