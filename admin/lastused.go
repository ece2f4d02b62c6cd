package admin

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store"
)

// flushLastUsed writes the last use of every key used since the last
// flush. Requests only stamp the key in memory; Run calls this every
// lastUsedEvery (a minute), so a replica sends at most one statement per
// key and minute, and the statement writes only when the stored use is at
// least lastUsedEvery older than the new one, so that replicas sharing a
// database write a key's row at most once per minute of uses between
// them. A use that is not written because another replica wrote a recent
// one is settled all the same: the stored value is within a minute of it.
func (s *Service) flushLastUsed(ctx context.Context) error {
	for _, k := range s.apiKeys.all() {
		seen := k.use.seen.Load()
		if seen == 0 || seen <= k.use.written.Load() {
			continue
		}
		used := time.Unix(seen, 0).UTC()
		err := s.db.WithContext(ctx).Model(&store.APIKey{}).
			Where("id = ? AND (last_used_at IS NULL OR last_used_at <= ?)", k.id, used.Add(-s.lastUsedEvery)).
			Update("last_used_at", used).Error
		if err != nil {
			return err
		}
		k.use.written.Store(seen)
	}
	return nil
}
