package userinfo

import (
	"context"
	"time"
)

// RaceBackoff exposes the bound of the first wait after a lost race.
const RaceBackoff = raceBackoff

// SetSleep makes s wait with sleep between writes, so a test can see the
// waits without spending them.
func SetSleep(s *Service, sleep func(ctx context.Context, d time.Duration) error) { s.sleep = sleep }
