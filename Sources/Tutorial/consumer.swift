import Sluice

/// The consumer example, recvcount.py (Part 11): a consumer coroutine that receives values with `send` and runs its exit handler on
/// `close`. Reads no input.
enum RecvCount: TutorialProgram {
    static let name = "consumer"

    static func run(_ input: String) throws {
        func recvCount() -> Consumer<Int> {                  // @consumer
            Consumer({ n in print("T-minus", n) },           // def recv_count():
                     onClose: { print("Kaboom!") })          //     ... n = (yield); print "T-minus", n
        }                                                    //     except GeneratorExit: print "Kaboom!"
        let r = recvCount()                                  // r = recv_count()
        for i in stride(from: 5, to: 0, by: -1) {            // for i in range(5,0,-1):
            r.send(i)                                        //     r.send(i)
        }
        r.close()                                            // r.close()
    }
}
