// Package s3 serves an S3 bucket (AWS, or any S3-compatible store) as a
// pier.FileSystem, through the AWS SDK for Go v2:
//
//	cfg, err := config.LoadDefaultConfig(ctx) // credentials: environment, shared config...
//	if err != nil {
//		log.Fatal(err)
//	}
//	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
//		o.BaseEndpoint = aws.String("https://minio.example.com") // stores other than AWS
//		o.UsePathStyle = true
//		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
//		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
//	})
//	fsys := s3.New(client, "my-bucket", s3.Options{Prefix: "ftp/alice"})
//	users.AddUser("alice", auth.Account{Password: "12345", FS: fsys, Perm: pier.AllPerms})
//
// The client is the caller's, with its credentials, region, endpoint and
// addressing (path-style or virtual-host); Options choose the prefix that
// is the FTP root, the part size, the cap on upload memory and the
// listing's page size.
//
// # What works
//
//   - Downloads (RETR) are streamed GetObject requests; after REST, a
//     ranged GetObject (pier.OpenAtFS).
//   - Uploads (STOR, STOU) are streamed: an upload no larger than one part
//     (Options.PartSize, 8 MiB by default) is one PutObject when it
//     completes; a larger one a multipart upload, whose parts are sent as
//     they fill while the next one fills, so an upload holds at most two
//     part buffers. The buffers of all uploads are capped
//     (Options.Buffers), and an upload waits for one as long as its
//     context lets it. Nothing is visible before the upload completes
//     (Close): an aborted or cut transfer (pier.Aborter) aborts the
//     multipart upload and leaves no object and no pending parts behind;
//     the old object, if any, stays as it was. STOU refuses a name taken
//     meanwhile (If-None-Match).
//   - APPE and REST+STOR start the new object from the old one's bytes:
//     copied server-side (UploadPartCopy) from 5 MiB up, downloaded and
//     uploaded again below, where S3 allows no copied part. REST+STOR
//     drops what was after the offset, as a resumed upload sends the rest
//     of the file.
//   - Listings (LIST, NLST, MLSD) are read a page at a time
//     (ListObjectsV2 with the delimiter "/"), never the whole folder at
//     once, each page bounded by Options.PageTimeout.
//   - Folders are "name/" markers (MKD writes one, as S3 consoles do) or
//     the common prefix of keys other clients wrote; both list and Stat as
//     folders. RMD refuses a folder with keys under it (550 Directory not
//     empty) and deletes only its marker. Deleting a folder's last file
//     writes the folder's marker first, so that the folder a client is in
//     doesn't vanish.
//   - Errors are pier's: a missing key is fs.ErrNotExist (550), a refusal
//     (403, AccessDenied) fs.ErrPermission (550), and others are wrapped
//     as they are (550, or 451 during a transfer). Every request is bound
//     to its command's context: ABOR, a dropped client or a shutdown end
//     it.
//
// # How it differs from a disk
//
//   - Rename (RNFR, RNTO) of a file is CopyObject then DeleteObject: not
//     atomic (both names exist in between, and both stay if the delete
//     fails), and refused (502) for objects over 5 GiB, which would need
//     a multipart copy. Folders can't be renamed (550): that would be a
//     copy and a delete per key, which could stop halfway.
//   - There is no writing in place: an upload replaces the whole object,
//     and APPE or REST+STOR rewrites it from a copy of its head.
//     OpenFile with os.O_WRONLY alone (writing over the start of a file,
//     keeping the rest), which pier itself doesn't use, works only for
//     objects up to one part.
//   - There are no permissions (files list as 0644, folders as 0755; SITE
//     CHMOD gets 502), no owners, no links.
//   - Times are S3's LastModified, to the second, when the object was
//     written (MFMT gets 502). S3 keeps no time for a folder: Stat reports
//     its marker's, or its first key's; listings and the root report
//     Options.FolderTime (DefaultFolderTime, 2000-01-01, never zero, or
//     some clients drop the entry).
//   - A bucket written by other clients may hold both "a" and "a/b": Stat
//     sees the file, and the listing shows both.
package s3
