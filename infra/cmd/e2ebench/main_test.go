package main

import (
	"testing"
)

func TestMedian(t *testing.T) {
	m := median([]point{
		{rps: 90, p50: 3, p99: 30, errors: 1},
		{rps: 110, p50: 1, p99: 10},
		{rps: 100, p50: 2, p99: 20, errors: 2},
	})
	if m.rps != 100 || m.p50 != 2 || m.p99 != 20 || m.errors != 3 {
		t.Errorf("median = %+v", m)
	}
}

func TestErrBadClients(t *testing.T) {
	for _, c := range []string{"0", "x", "1,,8"} {
		if err := run(t.Context(), []string{"-clients", c}, nil, nil); err == nil {
			t.Errorf("-clients %q: no error", c)
		}
	}
}

func TestUsersOutnumberClients(t *testing.T) {
	for _, tt := range []struct {
		counts []int
		want   int
	}{
		{[]int{1}, 32}, // the warm-up's 8 clients decide
		{[]int{1, 8, 32}, 128},
		{[]int{64, 2}, 256},
	} {
		if got := users(tt.counts); got != tt.want {
			t.Errorf("users(%v) = %d, want %d", tt.counts, got, tt.want)
		}
	}
}
