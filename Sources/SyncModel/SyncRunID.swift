/// The id of the sync run the current task works for, so every log line of a run (engine, client, store) can
/// name it: the executable's log handler reads it through a metadata provider.
public enum SyncRunID {
    /// `42` for run 42 of the run log, `dry-1a2b3c4d` for a dry run (which writes no run log); nil outside a run.
    @TaskLocal public static var current: String?
}
