/// A query compiled once and shared read-only by all workers: patterns compiled, fields resolved.
final class Plan: @unchecked Sendable {
    enum Output {
        /// Lines written in input order: grep's matching lines or select's joined fields.
        case grepLines(Pattern)
        case grepCount(Pattern)
        case select([FieldRef], json: Bool)
        case aggregate
    }

    let query: Query
    let format: CompiledFormat
    let prefilter: Pattern?
    let conditions: [Condition]
    let output: Output
    let aggregate: AggregateState.Kind

    /// True when some field after bytes (referer, agent) is read, or the facade reads records itself; the auto
    /// format then parses ` "referer" "agent"`, which otherwise it can skip.
    let usesTrailer: Bool
    /// How many leading fields the query reads (the highest field index it names, plus one); the facade's own
    /// record consumers may read any. The `fields` format splits a line no further.
    let fieldsRead: Int

    init(_ query: Query) throws {
        self.query = query
        let format = try CompiledFormat(query.format)
        self.format = format
        prefilter = try query.prefilter.map { try Pattern($0) }
        conditions = try query.conditions.map { try Condition($0, format: format) }
        switch query.operation {
        case .grep(let source, let countOnly):
            let pattern = try Pattern(source)
            output = countOnly ? .grepCount(pattern) : .grepLines(pattern)
            aggregate = .none
        case .select(let names, let json):
            guard !names.isEmpty else {
                throw SluiceError(.invalidArgument, path: "select", "select needs at least one field")
            }
            output = .select(try Plan.selectedNames(names, json: json).map { try format.field($0) }, json: json)
            aggregate = .none
        case .sum(let name):
            let field = try format.field(name)
            if format.isAccessLog && !format.isNumeric(field) {
                throw SluiceError(.invalidArgument, path: name, "cannot sum a text field (numeric fields: status, bytes)")
            }
            output = .aggregate
            aggregate = .sum(field)
        case .count(let by):
            output = .aggregate
            aggregate = try by.map { .table(try format.field($0)) } ?? (query.custom == nil ? .count : .custom)
        case .distinct(let name, _):
            output = .aggregate
            aggregate = .table(try format.field(name))
        case .top(let name, _):
            try query.operation.checkParameters()
            output = .aggregate
            aggregate = .table(try format.field(name))
        case .extreme(let name, let with, let isMax):
            output = .aggregate
            let field = try format.field(name)
            aggregate = .extreme(field, with: try with.map { try format.field($0) }, isMax: isMax,
                                 numeric: format.isNumeric(field))
        }
        var fields = conditions.map(\.field)
        switch aggregate {
        case .sum(let field), .table(let field): fields.append(field)
        case .extreme(let field, let with, _, _): fields += [field] + (with.map { [$0] } ?? [])
        default: break
        }
        if case .select(let selected, _) = output { fields += selected }
        usesTrailer = query.custom != nil || fields.contains { $0.index >= AccessField.referer }
        fieldsRead = query.custom != nil ? Int.max : fields.reduce(0) { max($0, $1.index + 1) }
    }

    /// The fields `select` writes: as given, except that JSON keeps each name once (its first place), since an
    /// object's keys must differ.
    static func selectedNames(_ names: [String], json: Bool) -> [String] {
        guard json else { return names }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
