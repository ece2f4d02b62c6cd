package policy

import (
	"context"
	"fmt"

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
func (d *dbLayer) load(ctx context.Context) ([]Line, error) { return d.loadFrom(ctx, d.gdb) }

// loadFrom reads every database line through db.
func (d *dbLayer) loadFrom(ctx context.Context, db *gorm.DB) ([]Line, error) {
	var rows []gormadapter.CasbinRule
	if err := db.WithContext(ctx).Table(casbinTable).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("policy: loading %s: %w", casbinTable, err)
	}
	lines := make([]Line, 0, len(rows))
	for _, r := range rows {
		fields := []string{r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}
		n := len(fields)
		for n > 0 && fields[n-1] == "" {
			n--
		}
		if r.Ptype == "" || n == 0 {
			continue
		}
		lines = append(lines, Line{Ptype: r.Ptype, Fields: fields[:n:n]})
	}
	return lines, nil
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
