import Sluice

/// robots.py (Part 4): the hosts that fetched robots.txt. The Python original then looks each address up with
/// `socket.gethostbyaddr`, printing the address when that fails; these print the addresses, sorted, as the
/// expected output does. Runs on the parallel engine.
enum Robots: TutorialProgram {
    static let name = "robots"

    static func run(_ input: String) throws {
        let lines = linesFromDir("access-log*", input)                          // lines = lines_from_dir("access-log*","www")
        let log = apacheLog(lines)                                               // log = apache_log(lines)
        let addrs = try log.where(.request.contains("robots.txt")).distinct(.host) // addrs = set(r['host'] for r in log
                                                                                 //         if 'robots.txt' in r['request'])
        for addr in addrs {                                                      // for addr in addrs:
            print(addr)                                                          //     print addr
        }
    }
}
