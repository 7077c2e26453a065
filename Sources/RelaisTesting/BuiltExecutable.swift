public import Foundation

/// The tests' one way to find the package's built executables (`relais`, `relais-hub`,
/// `relais-fault`): SwiftPM puts them in the same products folder as the test bundle and the
/// `relais-sim` and `relais-bench` programs.
///
/// The search starts beside the running program (the test runner, or `relais-sim`) and climbs its
/// parent folders, so it works from `.build/debug`, `.build/<triple>/debug` and from inside an
/// `.xctest` bundle alike. When nothing is found it answers `.build/debug/NAME` of this package, so a
/// test can `#require` the file to exist and tell the reader to build it.
public enum BuiltExecutable {
    /// The built executable `name`.
    public static func url(_ name: String) -> URL {
        for start in startFolders {
            var folder = start
            while folder.path != "/" {
                let candidate = folder.appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                folder = folder.deletingLastPathComponent()
            }
        }
        return packageRoot.appendingPathComponent(".build/debug/\(name)")
    }

    /// The built executable `name`'s path.
    public static func path(_ name: String) -> String { url(name).path }

    /// Where the running program lives: as started, and with symbolic links resolved.
    private static var startFolders: [URL] {
        let started = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        return [started.deletingLastPathComponent(), started.resolvingSymlinksInPath().deletingLastPathComponent()]
    }

    /// The package's root folder (this file is `Sources/RelaisTesting/BuiltExecutable.swift`).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}
