package storage

// SetListPage makes List and RemoveAll read n keys per page, so that a test
// crosses pages with few objects.
func (s *S3) SetListPage(n int32) { s.listPage = n }
