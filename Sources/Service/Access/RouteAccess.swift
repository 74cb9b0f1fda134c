import Store

/// Who may call a route, declared where the route is registered (`RouteTable.add`).
enum RouteAccess: Sendable, Equatable, CustomStringConvertible {
    /// Anyone: probes and the API description.
    case open
    /// `/metrics`: open unless the server runs with `--metrics-auth`, then it needs `read`.
    case metrics
    /// A token whose scope includes this one.
    case scope(TokenScope)

    var description: String {
        switch self {
        case .open: "open"
        case .metrics: "metrics"
        case .scope(let scope): scope.rawValue
        }
    }

    /// The scope a token needs, nil for an open route.
    func neededScope(metricsNeedToken: Bool) -> TokenScope? {
        switch self {
        case .open: nil
        case .metrics: metricsNeedToken ? .read : nil
        case .scope(let scope): scope
        }
    }
}
