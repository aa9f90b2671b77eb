package pier

import (
	"context"
	"fmt"
	"strconv"
)

// AvailableFS is implemented by file systems that know how many more
// bytes a user may store: AVBL reports it. Without it, AVBL gets 502.
type AvailableFS interface {
	// Available returns how many bytes uploads into the folder name may
	// still take: the free space of the disk that holds it, as an
	// unprivileged user may use it (fsys/local), or what is left of the
	// user's quota. ErrNotSupported means the back-end can't tell (502);
	// a name that is not a folder gets the usual errors.
	Available(ctx context.Context, name string) (int64, error)
}

// cmdAVBL answers "AVBL [folder]" with the bytes available there
// (draft-peterson-streamlined-ftp-command-extensions-10 §4, as Serv-U and
// WinSCP use it: "213 <bytes>"). The pipeline has resolved the folder,
// checked w there and looked it up.
func (s *session) cmdAVBL(r *Request) error {
	if !r.Info.IsDir() {
		s.reply(550, "Not a directory.")
		return nil
	}
	a, ok := s.user.FS.(AvailableFS)
	if !ok {
		return ErrNotSupported
	}
	n, err := a.Available(r.Context(), r.Name)
	if err != nil {
		return fmt.Errorf("avbl %s: %w", r.Path, err)
	}
	s.reply(213, strconv.FormatInt(max(n, 0), 10))
	return nil
}
