package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestConcurrentContestedUpdates fires hundreds of concurrent requests from
// many users at a few contested email addresses and mobile numbers, then
// checks what DynamoDB itself must have enforced: every value is held by at
// most one user, and every guard item matches the user that holds it.
func TestConcurrentContestedUpdates(t *testing.T) {
	const (
		users     = 40
		requests  = 400
		clients   = 32
		contested = 4
	)
	e := newEnv(t, "")
	ids := make([]string, users)
	tokens := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("user%028d", i)
		e.seedUser(userinfo.User{ID: ids[i], DomainID: domainA, Email: fmt.Sprintf("own%d@example.com", i), AreaCode: "+86", Phone: fmt.Sprintf("1380000%04d", i), Enabled: true})
		tokens[i] = e.token(ids[i], domainA)
	}
	for k := 0; k < contested; k++ {
		e.secret(fmt.Sprintf("hot%d@example.com", k), fmt.Sprintf("1990000%04d", k))
	}

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
		work     = make(chan int)
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				rng := rand.New(rand.NewPCG(uint64(n), 7))
				i := rng.IntN(users)
				k := rng.IntN(contested)
				var body string
				switch rng.IntN(3) {
				case 0:
					body = userBody(fmt.Sprintf(`"email":"hot%d@example.com"`, k))
				case 1:
					body = userBody(fmt.Sprintf(`"areacode":"0086","phone":"1990000%04d"`, k))
				default: // back to its own values, releasing the contested ones
					body = userBody(fmt.Sprintf(`"email":"own%d@example.com","areacode":"+86","phone":"1380000%04d"`, i, i))
				}
				r := e.put(path(ids[i]), tokens[i], body)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		}()
	}
	for n := 0; n < requests; n++ {
		work <- n
	}
	close(work)
	wg.Wait()

	t.Logf("statuses: %v", statuses)
	for s := range statuses {
		if s != http.StatusNoContent && s != http.StatusConflict {
			t.Errorf("got %d responses with status %d; want only 204 and 409", statuses[s], s)
		}
	}
	if statuses[http.StatusNoContent] == 0 || statuses[http.StatusConflict] == 0 {
		t.Errorf("the test did not contend: %v", statuses)
	}

	ctx := context.Background()
	emailHolder := map[string]string{}
	phoneHolder := map[string]string{}
	for _, id := range ids {
		u := e.user(id)
		if prev, ok := emailHolder[userinfo.EmailKey(u.Email)]; ok {
			t.Errorf("email %s held by %s and %s", userinfo.MaskEmail(u.Email), prev, id)
		}
		emailHolder[userinfo.EmailKey(u.Email)] = id
		pk := userinfo.PhoneKey(u.AreaCode, u.Phone)
		if prev, ok := phoneHolder[pk]; ok {
			t.Errorf("phone %s held by %s and %s", userinfo.MaskPhone(u.Phone), prev, id)
		}
		phoneHolder[pk] = id
	}
	guards, err := e.store.Guards(ctx, domainA)
	if err != nil {
		t.Fatal(err)
	}
	seenEmail, seenPhone := map[string]bool{}, map[string]bool{}
	for _, g := range guards {
		holders, seen := emailHolder, seenEmail
		if g.Kind == "phone" {
			holders, seen = phoneHolder, seenPhone
		}
		if holders[g.Value] != g.UserID {
			t.Errorf("%s guard %q points at %s, but %q holds it", g.Kind, g.Value, g.UserID, holders[g.Value])
		}
		seen[g.Value] = true
	}
	for v := range emailHolder {
		if !seenEmail[v] {
			t.Errorf("an email is held without its guard")
		}
	}
	for v := range phoneHolder {
		if !seenPhone[v] {
			t.Errorf("a phone is held without its guard")
		}
	}
	if len(guards) != 2*users {
		t.Errorf("%d guard items, want %d (one email and one phone per user)", len(guards), 2*users)
	}
}
