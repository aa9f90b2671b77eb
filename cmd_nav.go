package pier

func (s *session) cmdPWD(*Request) error {
	s.reply(257, "\""+quote(s.cwd)+"\" is the current directory.")
	return nil
}

// cmdCWD changes the working directory: CWD and XCWD to their argument
// ("/" without one), CDUP and XCUP to the parent; the pipeline has
// resolved the path, checked e there and looked it up.
func (s *session) cmdCWD(r *Request) error {
	if !r.Info.IsDir() {
		s.reply(550, "Not a directory.")
		return nil
	}
	if a, ok := s.user.FS.(AccessFS); ok {
		if err := a.CanEnter(r.Context(), r.Name); err != nil {
			return err
		}
	}
	s.cwd = r.Path
	s.reply(250, "\""+quote(r.Path)+"\" is the current directory.")
	return nil
}
