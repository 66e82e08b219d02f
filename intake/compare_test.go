package intake

import (
	"slices"
	"testing"

	"github.com/recoverybot/recoverybot/store"
)

func TestCompare(t *testing.T) {
	places := []store.Place{{ID: 10, UID: 2}, {ID: 11, UID: 4, Away: true}, {ID: 12, UID: 5}, {ID: 13, UID: 7}, {ID: 14, UID: 8, Away: true}}
	for _, tc := range []struct {
		name     string
		uids     []uint32
		last     uint32
		missed   []uint32
		vanished []int64
	}{
		{"all there", []uint32{2, 5, 7}, 8, nil, nil},
		{"missed below and between", []uint32{1, 2, 3, 5, 6, 7}, 8, []uint32{1, 3, 6}, nil},
		{"above the position is new mail", []uint32{2, 5, 7, 9, 10}, 8, nil, nil},
		{"missed at the position", []uint32{2, 5, 7, 9}, 9, []uint32{9}, nil},
		{"vanished, away rows are not", []uint32{2}, 8, nil, []int64{12, 13}},
		{"empty mailbox", nil, 8, nil, []int64{10, 12, 13}},
		{"moved message still there", []uint32{2, 4, 5, 7, 8}, 8, nil, nil},
	} {
		missed, vanished := compare(tc.uids, tc.last, places)
		if !slices.Equal(missed, tc.missed) || !slices.Equal(vanished, tc.vanished) {
			t.Errorf("%s: compare = %v, %v; want %v, %v", tc.name, missed, vanished, tc.missed, tc.vanished)
		}
	}
	if missed, vanished := compare([]uint32{1, 2}, 2, nil); !slices.Equal(missed, []uint32{1, 2}) || vanished != nil {
		t.Errorf("empty ledger: %v, %v", missed, vanished)
	}
}
