import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files that hold personal data or keys: the store and its `-wal`/`-shm`, exports, reports, lock files.
///
/// Each is created owner-only (0600, folders 0700) whatever the process umask, so a register installed on a shared
/// host is not readable by the host's other users. An existing file is narrowed to 0600 when crmsync rewrites it.
public enum PrivateFiles {
    /// The mode of every file crmsync creates that can hold personal data or keys.
    public static let fileMode: mode_t = 0o600
    /// The mode of every folder crmsync creates for such files.
    public static let folderMode: mode_t = 0o700

    /// Writes `data` to `path`, owner-only: a new file is created 0600, an existing one is truncated and narrowed
    /// to 0600. What another user could have planted there is refused before anything is written: a symbolic link
    /// (`O_NOFOLLOW`), a FIFO, a device or anything else that is not a regular file, and a file this user does not
    /// own (root would otherwise write personal data into a file its owner still reads).
    public static func write(_ data: Data, toPath path: String) throws(PrivateFileError) {
        // Non-blocking, so that a FIFO without a reader cannot hang the open; a regular file ignores the flag.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw PrivateFileError(path: path, problem: "cannot be written", code: errno) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw PrivateFileError(path: path, problem: "cannot be examined", code: errno)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw PrivateFileError(path: path, problem: "is not a regular file; refused", code: EINVAL)
        }
        guard info.st_uid == geteuid() else {
            throw PrivateFileError(path: path, problem: "belongs to another user; refused", code: EPERM)
        }
        guard ftruncate(descriptor, 0) == 0 else {
            throw PrivateFileError(path: path, problem: "cannot be written", code: errno)
        }
        guard fchmod(descriptor, fileMode) == 0 else {
            throw PrivateFileError(path: path, problem: "cannot be made owner-only", code: errno)
        }
        var written = 0
        let count = data.count
        let failure: Int32? = data.withUnsafeBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            while written < count {
                let result = systemWrite(descriptor, base + written, count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return nil
        }
        if let failure { throw PrivateFileError(path: path, problem: "cannot be written", code: failure) }
    }

    private static func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.write(descriptor, bytes, count)
        #else
            Darwin.write(descriptor, bytes, count)
        #endif
    }

    /// Creates the folder at `path` (and missing parents) owner-only (0700); an existing folder is left as it is.
    public static func createFolder(atPath path: String) throws {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(folderMode)])
    }

    /// Creates an empty owner-only file at `path` when none exists, so that SQLite, which gives a database's
    /// `-wal` and `-shm` the mode of the database file, creates those owner-only too. An existing file is kept.
    public static func createIfMissing(atPath path: String) throws(PrivateFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        if descriptor < 0 {
            if errno == EEXIST { return }
            throw PrivateFileError(path: path, problem: "cannot be created", code: errno)
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, fileMode) == 0 else {
            throw PrivateFileError(path: path, problem: "cannot be made owner-only", code: errno)
        }
    }

    /// The permission bits of the file at `path`, or nil when there is none.
    public static func mode(ofPath path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    /// The store's files (the database, its `-wal` and `-shm`) that group or others may read or write, with their
    /// modes: what `crmsync status` and `crmsync check` warn about.
    public static func looselyProtected(storePath path: String) -> [(path: String, mode: mode_t)] {
        [path, path + "-wal", path + "-shm"].compactMap { candidate in
            guard let mode = mode(ofPath: candidate), mode & 0o077 != 0 else { return nil }
            return (candidate, mode)
        }
    }

    /// `0644`-style text of a mode.
    public static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }

    /// The real path of an existing file: symbolic links and `.`/`..` resolved, absolute. Nil when it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A private file could not be created or written. The text names the path (the operator's own) and the
/// system's reason, never the contents.
public struct PrivateFileError: Error, LocalizedError, Sendable {
    public var path: String
    public var problem: String
    public var code: Int32

    public var errorDescription: String? { "\(path): \(problem) (\(String(cString: strerror(code))))" }
}
