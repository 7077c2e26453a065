import Foundation
import RelaisTesting
import Testing

/// The tests' child processes: started with many descriptors open (the suite's peak is about 1,400,
/// where Foundation's `Process.run()` overran its buffer), they inherit none of them.
struct SpawnedProcessTests {
    @Test func aChildStartedWithManyOpenDescriptorsInheritsNone() async throws {
        // Room for these beside the tests running alongside: the soft limit raised to the hard one.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<1_500 {
            let fd = open("/dev/null", O_RDONLY)  // no O_CLOEXEC: only closefrom keeps it from the child
            try #require(fd >= 0, "could not open a descriptor: errno \(errno)")
            held.append(fd)
        }
        // `ls` lists its own descriptors: the three standard streams and the directory it reads.
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/bin/ls"), ["/proc/self/fd"])
        #expect(result.status == 0, "\(result.stderr)")
        let listed = Set(result.stdout.split(separator: "\n").compactMap { Int($0) })
        #expect(listed.isSubset(of: [0, 1, 2, 3]), "the child inherited \(listed.subtracting([0, 1, 2, 3]).count)")
        #expect(listed.isSuperset(of: [0, 1, 2]))
    }

    @Test func exitStatusesSignalsAndStandardInput() async throws {
        let shell = URL(fileURLWithPath: "/bin/sh")
        let echoed = try await ChildProcess.run(shell, ["-c", "cat; echo err >&2; exit 3"], input: "hello")
        #expect(echoed.status == 3)
        #expect(echoed.stdout == "hello")
        #expect(echoed.stderr == "err\n")

        let sleeper = try SpawnedProcess("/bin/sleep", ["30"])
        #expect(sleeper.isRunning)
        sleeper.signal(SIGKILL)
        let ended = try await sleeper.waitOffPool()
        #expect(ended == SpawnedProcess.Termination(status: SIGKILL, signalled: true))
        #expect(!sleeper.isRunning)

        let folder = try TemporaryFolder(prefix: "spawn")
        defer { folder.remove() }
        let inFolder = try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/pwd"), [], currentDirectory: URL(fileURLWithPath: folder.path))
        #expect(
            URL(fileURLWithPath: inFolder.stdout.trimmingCharacters(in: .newlines)).resolvingSymlinksInPath().path
                == URL(fileURLWithPath: folder.path).resolvingSymlinksInPath().path)
    }
}
