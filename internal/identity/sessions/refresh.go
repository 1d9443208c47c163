package sessions

import (
	"context"
	"slices"
	"sync"
	"time"
)

// RefreshRecord is what is kept of a refresh token. The token itself is
// never stored, only its SHA-256, so a leaked store yields no usable token.
type RefreshRecord struct {
	// Hash is the hex SHA-256 of the refresh token.
	Hash string
	// Family is a random id shared by every refresh token descending from
	// one login; reuse of any of them revokes all of them.
	Family string
	// Subject is who the tokens are for, as last issued.
	Subject Subject
	// IssuedAt and ExpiresAt bound this token.
	IssuedAt, ExpiresAt time.Time
	// SessionExpiresAt is the end of the whole family: refreshing never
	// extends a session past it.
	SessionExpiresAt time.Time
	// Used is set when the token was exchanged. Used records are kept until
	// they expire, to detect reuse.
	Used bool
}

// RefreshStore keeps refresh token records. Implementations must make
// Consume atomic: of two concurrent Consume calls for one hash, exactly one
// may see Used == false.
type RefreshStore interface {
	// Put stores a new record.
	Put(ctx context.Context, rec RefreshRecord) error
	// Consume marks the record with this hash used and returns it as it was
	// before the call; ok is false when there is no such record (never
	// issued, revoked, or expired and collected). It may return expired
	// records: the Manager checks expiry itself.
	Consume(ctx context.Context, hash string) (rec RefreshRecord, ok bool, err error)
	// RevokeFamily deletes every record of the family. Revoking an unknown
	// family is not an error.
	RevokeFamily(ctx context.Context, family string) error
}

// gcInterval bounds how often Put sweeps expired records: often enough that
// memory follows the number of live sessions, rarely enough to stay cheap.
const gcInterval = time.Minute

// MemoryRefreshStore is a RefreshStore in memory. Expired records are
// collected during Put, at most once a minute, so no goroutine is needed.
// Sessions do not survive a restart: users log in again.
type MemoryRefreshStore struct {
	now func() time.Time

	mu       sync.Mutex
	records  map[string]RefreshRecord
	families map[string][]string // family -> hashes
	lastGC   time.Time
}

var _ RefreshStore = (*MemoryRefreshStore)(nil)

// NewMemoryRefreshStore returns an empty store using the clock now
// (time.Now when nil) to collect expired records.
func NewMemoryRefreshStore(now func() time.Time) *MemoryRefreshStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryRefreshStore{
		now:      now,
		records:  map[string]RefreshRecord{},
		families: map[string][]string{},
	}
}

// Put stores rec, collecting expired records first when due.
func (m *MemoryRefreshStore) Put(_ context.Context, rec RefreshRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now := m.now(); now.Sub(m.lastGC) >= gcInterval {
		m.collectLocked(now)
		m.lastGC = now
	}
	rec.Subject.Groups = slices.Clone(rec.Subject.Groups)
	m.records[rec.Hash] = rec
	m.families[rec.Family] = append(m.families[rec.Family], rec.Hash)
	return nil
}

// Consume marks the record used and returns its previous state.
func (m *MemoryRefreshStore) Consume(_ context.Context, hash string) (RefreshRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.records[hash]
	if !ok {
		return RefreshRecord{}, false, nil
	}
	used := rec
	used.Used = true
	m.records[hash] = used
	rec.Subject.Groups = slices.Clone(rec.Subject.Groups)
	return rec, true, nil
}

// RevokeFamily deletes every record of family.
func (m *MemoryRefreshStore) RevokeFamily(_ context.Context, family string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.families[family] {
		delete(m.records, h)
	}
	delete(m.families, family)
	return nil
}

// Collect removes the records expired by now and returns how many it
// removed. Put calls it on its own; it is exported for tests and metrics.
func (m *MemoryRefreshStore) Collect() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.collectLocked(m.now())
}

// Len returns the number of records held, expired or not.
func (m *MemoryRefreshStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}

func (m *MemoryRefreshStore) collectLocked(now time.Time) int {
	removed := 0
	for family, hashes := range m.families {
		kept := hashes[:0]
		for _, h := range hashes {
			rec, ok := m.records[h]
			if ok && now.Before(rec.ExpiresAt) {
				kept = append(kept, h)
				continue
			}
			if ok {
				delete(m.records, h)
				removed++
			}
		}
		if len(kept) == 0 {
			delete(m.families, family)
		} else {
			m.families[family] = kept
		}
	}
	return removed
}
