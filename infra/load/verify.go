package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/infra/tablecheck"
)

// ReadState reads the table's users, guards and audit records for p, as
// Verify wants them: once after seeding, once after the run. A write the
// API gave up on (503 at its deadline) may still land after the run, and a
// scan is no snapshot, so it reads until two reads in a row agree (at most
// 20, 100 ms apart) and returns the last.
func ReadState(ctx context.Context, client *dynamodb.Client, table string, p Population) (*tablecheck.State, error) {
	prev, err := tablecheck.Read(ctx, client, table, p.Domains, p.UserIDs())
	for i := 0; err == nil && i < 20; i++ {
		time.Sleep(100 * time.Millisecond)
		var cur *tablecheck.State
		if cur, err = tablecheck.Read(ctx, client, table, p.Domains, p.UserIDs()); err == nil && reflect.DeepEqual(cur, prev) {
			return cur, nil
		}
		prev = cur
	}
	return prev, err
}

// Verify checks a run's report against the table before and after it.
// It returns every violation, joined, or nil:
//
//   - every response is 204, 409 or 503, and every request got one;
//   - in every account each email and mobile number belongs to at most one
//     user, every guard points at a user holding its value, and every held
//     value has its guard (tablecheck.State.Check);
//   - the audit records written during the run account for every 204
//     exactly once, and for nothing but 204s and 503s (a 503 may or may
//     not have been applied);
//   - each user's version rose by exactly its number of new audit records:
//     no change was written without its audit record, or twice.
func Verify(before, after *tablecheck.State, r Report) error {
	var errs []error
	for status, n := range r.Statuses {
		switch status {
		case http.StatusNoContent, http.StatusConflict, http.StatusServiceUnavailable:
		default:
			errs = append(errs, fmt.Errorf("%d responses with status %d; want only 204, 409 and 503", n, status))
		}
	}
	if r.TransportErrors > 0 {
		errs = append(errs, fmt.Errorf("%d requests got no response (first: %s)", r.TransportErrors, r.FirstError))
	}
	if err := after.Check(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkAudits(before, after, r)...)
	return errors.Join(errs...)
}

func checkAudits(before, after *tablecheck.State, r Report) []error {
	var errs []error
	applied := map[string]int{} // request id → audit records seen
	for _, id := range r.Applied {
		applied[id] = 0
	}
	uncertain := map[string]bool{}
	for _, id := range r.Uncertain {
		uncertain[id] = true
	}
	fresh := before.NewAudits(after)
	for _, userID := range slices.Sorted(maps.Keys(after.Users)) {
		recs := fresh[userID]
		delta := after.Users[userID].Version - before.Users[userID].Version
		if delta != int64(len(recs)) {
			errs = append(errs, fmt.Errorf("user %s: version rose by %d with %d new audit records", userID, delta, len(recs)))
		}
		for _, rec := range recs {
			if rec.ActorUserID != userID || rec.UserID != userID {
				errs = append(errs, fmt.Errorf("user %s: audit record %s names actor %s", userID, rec.RequestID, rec.ActorUserID))
			}
			switch n, ok := applied[rec.RequestID]; {
			case ok:
				applied[rec.RequestID] = n + 1
			case !uncertain[rec.RequestID]:
				errs = append(errs, fmt.Errorf("user %s: audit record of request %s, which was not answered 204 or 503", userID, rec.RequestID))
			}
		}
	}
	missing, doubled := 0, 0
	for _, n := range applied {
		switch {
		case n == 0:
			missing++
		case n > 1:
			doubled++
		}
	}
	if missing > 0 || doubled > 0 {
		errs = append(errs, fmt.Errorf("of %d requests answered 204, %d left no audit record and %d more than one", len(r.Applied), missing, doubled))
	}
	if len(applied) != len(r.Applied) {
		errs = append(errs, fmt.Errorf("%d responses 204 share %d request ids", len(r.Applied), len(applied)))
	}
	return errs
}
