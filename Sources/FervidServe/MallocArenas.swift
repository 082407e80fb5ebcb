import CKernels

/// glibc's malloc arenas for `fervid serve`. glibc gives each thread that allocates an arena of
/// its own, up to 8 per core, and memory freed in one arena is not reused by another: with five
/// threads per stream the arenas, not the data, grew with the streams (docs/serve.md, "What a
/// stream costs").
public enum MallocArenas {
    /// The bound `fervid serve` sets at start-up.
    public static let serve = 2

    /// Caps the arenas at `arenas` (mallopt M_ARENA_MAX); call before the threads that allocate
    /// start. False when refused or when the C library is not glibc (nothing changed).
    @discardableResult
    public static func limit(_ arenas: Int) -> Bool {
        fervid_set_arena_max(Int32(arenas)) == 1
    }
}
