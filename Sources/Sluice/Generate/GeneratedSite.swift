/// The website a generation logs visits to: its Zipf-ranked hosts and pages, the page paths, and the agents,
/// referrers and search words around them. Building it costs tens of milliseconds (it draws every path), so
/// `sluice gen --files` builds one and lets every file log the same site, each with its own visits.
/// Immutable once built, so generations may share it.
public final class GeneratedSite: @unchecked Sendable {
    /// The host and path populations it was built for.
    public let hosts: Int
    /// The path population it was built for (`options.paths`).
    public let paths: Int
    let hostKey: UInt32
    let hostRanks: ZipfTable
    let pathRanks: ZipfTable
    let catalog: SiteCatalog
    let agents: GeneratorStrings
    let referrers: GeneratorStrings
    let searchEngines: GeneratorStrings
    let words: GeneratorStrings
    let users: GeneratorStrings

    /// The site `options` describes: hosts and paths from `options.hosts` and `options.paths`, names and host
    /// addresses from `options.seed`. Generating with it gives the same bytes as generating without it.
    /// Throws `SluiceError(.invalidArgument, ...)` when the host or path population is out of range.
    public init(_ options: GeneratorOptions) throws {
        try LogGenerator.checkPopulations(options)
        hosts = options.hosts
        paths = options.paths
        hostKey = UInt32(truncatingIfNeeded: SplitMix64(state: options.seed ^ 0x4057_0000).nextValue())
        hostRanks = ZipfTable(count: options.hosts, sixteenths: 0)
        pathRanks = ZipfTable(count: options.paths, sixteenths: 1)
        catalog = SiteCatalog(count: options.paths, seed: options.seed)
        agents = GeneratorStrings(LineGenerator.agentList.map { $0.0 }, weights: LineGenerator.agentList.map { $0.1 })
        referrers = GeneratorStrings(LineGenerator.referrerList.map { $0.0 }, weights: LineGenerator.referrerList.map { $0.1 })
        searchEngines = GeneratorStrings(LineGenerator.searchList.map { $0.0 }, weights: LineGenerator.searchList.map { $0.1 })
        words = GeneratorStrings(SiteCatalog.words)
        users = GeneratorStrings(LineGenerator.userList)
    }
}
