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
// addressing (path-style or virtual-host), and its retryer (pier's daemon
// gives its configuration HTTPClient, which writes upload bodies to a
// plain-http store 256 KiB at a time rather than 32 KiB); Options
// choose the prefix that is the FTP root, the part size, the cap on
// upload memory, the listing's page size and whether folders may be
// renamed.
//
// # What works
//
//   - Downloads (RETR) are streamed GetObject requests; after REST, a
//     ranged GetObject (pier.OpenAtFS). RETR asks nothing else: its GET
//     describes the object (pier.OpenInfoFS), and only a failed one is
//     followed by a look-up, for the reply. A download of a large object
//     (nine parts or more: 72 MiB with the default Options.PartSize)
//     reads the parts ahead of the client in parallel, each a ranged GetObject of its own (with
//     If-Match, so that an object replaced meanwhile fails the download
//     with 451 rather than mixing two objects): one part ahead, and one
//     more, up to four, each time the client had to wait for one. It
//     takes their buffers from Options.Buffers only if one is free at
//     that moment, half of them at most for all downloads, and streams
//     without.
//   - Uploads (STOR, STOU) are streamed: an upload no larger than one part
//     (Options.PartSize, 8 MiB by default) is one PutObject when it
//     completes, and so is one no larger than two if a second buffer was
//     free when the first filled; a larger one a multipart upload, whose
//     parts are sent as they fill while the next one fills, up to four
//     parts in flight at once. The buffers of all uploads are capped
//     (Options.Buffers): an upload takes its first when it is opened,
//     which pier does before its 150 (FS.CommitsOnClose), so a client is
//     told to send only once there is a buffer for its bytes; it waits
//     for that one (and its second, or its first part to be sent), as
//     long as its context lets it, and
//     takes more, up to five, only if the cap has one free at that moment,
//     so that many uploads at once share the cap as if each held two at
//     most. A binary upload reads its data connection straight into the
//     part buffers (pier.Receiver). Nothing is visible before the upload completes
//     (Close): an aborted or cut transfer (pier.Aborter) aborts the
//     multipart upload and leaves no object and no pending parts behind;
//     the old object, if any, stays as it was. STOU refuses a name taken
//     meanwhile (If-None-Match). Before the 150, STOR and APPE look the
//     name up, and a new file's folder below the top, with a listing
//     each (FS.StatUpload, pier.UploadStatFS) rather than a HEAD and a
//     listing each; this relies on the store listing keys in the order
//     of their bytes, as S3 does, and a listing refused is followed by
//     Stat's look-up. CWD, MLSD and LIST look their folder up the same
//     way (FS.StatDir, pier.DirStatFS), as does OpenDir.
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
//     (403, AccessDenied) fs.ErrPermission (550). A store that is busy or
//     failing (SlowDown, 503 and the other throttling replies, any 5xx)
//     is a *pier.ReplyError with 451 ("the storage is busy; try again"),
//     a transient failure, in every command (LIST, SIZE, DELE, RNFR...,
//     transfers): that is once the client's retryer gave up. FS makes no
//     retries of its own: the SDK's standard retryer, the default, tries
//     a request 3 times with jittered back-off, and within a retry quota
//     per client (500 tokens, 5 a throttled retry, 14 another), so that
//     a store that keeps failing is not hammered: once the quota is spent,
//     requests fail at their first error until successes refill it.
//     A store that can't be reached (no HTTP reply: refused, reset,
//     timed out) is a 451 too ("can't reach the storage"). Others are
//     wrapped as they are (550, or 451 during a transfer).
//     Every request is bound to its command's context: ABOR, a dropped
//     client or a shutdown end it.
//
// # How it differs from a disk
//
//   - Rename (RNFR, RNTO) of a file is CopyObject then DeleteObject: not
//     atomic (both names exist in between, and both stay if the delete
//     fails). Objects over 5 GiB (MaxCopySize) are copied in parts of
//     512 MiB (CopyPartSize: a multipart upload of UploadPartCopy
//     requests, aborted if one fails), as slow as copying the bytes
//     inside the store. The copy keeps the object's metadata.
//   - Folders can't be renamed (550) unless Options.FolderRenameMax
//     allows it: a folder is every key under its prefix, and moving it
//     is a copy per key, then, once all are copied, a delete per key.
//     A folder with more keys than that is refused (550 "Folder too large
//     to rename (more than N objects)."). It is not atomic: a failure
//     while copying leaves the old folder whole beside the copies made so
//     far; a failure while deleting, the new folder whole beside the old
//     keys not yet deleted.
//   - There is no writing in place: an upload replaces the whole object,
//     and APPE or REST+STOR rewrites it from a copy of its head.
//     OpenFile with os.O_WRONLY alone (writing over the start of a file,
//     keeping the rest), which pier itself doesn't use, works only for
//     objects up to one part.
//   - There are no permissions (files list as 0644, folders as 0755; SITE
//     CHMOD gets 502), no owners, no links.
//   - Times are S3's LastModified, to the second, when the object was
//     written. MFMT (Chtimes) stores a time in the object's metadata,
//     x-amz-meta-mtime, Unix seconds as rclone and s3fs write it, with a
//     copy of the object onto itself (its bytes, content type and other
//     metadata kept). Stat, and so MDTM and MLST, report that time;
//     listings (LIST, MLSD) report LastModified, which the copy made
//     now: ListObjectsV2 returns no metadata, and a HEAD per entry would
//     cost a request per file. S3 keeps no time for a folder (Chtimes
//     refuses one; pier's MFMT takes files only): Stat reports its
//     marker's, or its first key's;
//     listings and the root report Options.FolderTime
//     (DefaultFolderTime, 2000-01-01, never zero, or some clients drop
//     the entry).
//   - A bucket written by other clients may hold both "a" and "a/b": Stat
//     sees the file, and the listing shows both.
package s3
