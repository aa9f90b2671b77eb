package asuser

import (
	"context"

	"github.com/pierftp/pier"
)

var _ pier.AvailableFS = (*FS)(nil)

// Available implements pier.AvailableFS (AVBL) as the account, so that the
// folder is opened with its rights; pier.ErrNotSupported if the wrapped
// file system can't tell.
func (f *FS) Available(ctx context.Context, name string) (n int64, err error) {
	a, ok := f.inner.(pier.AvailableFS)
	if !ok {
		return 0, pier.ErrNotSupported
	}
	err = f.do(ctx, func() (err error) { n, err = a.Available(ctx, name); return })
	return n, err
}
