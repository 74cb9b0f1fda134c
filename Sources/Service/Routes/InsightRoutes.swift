import Store
import Foundation
import HTTPServer
import SqueezeEngine

extension AdapterService {
    func addInsightRoutes(_ t: inout RouteTable) {
        t.addNamed(.get, "/v1/adapters/:ref/spectrum", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            let inspection = try inspections.inspection(r)
            struct Module: Encodable { let name: String; let rank: Int; let singularValues: [Double]; let ranks: [Int]; let energy: [Double] }
            struct Body: Encodable { let digest: String; let modules: [Module]; let candidates: [AdapterInspection.Candidate] }
            return .json(try JSONBody.encode(Body(
                digest: r.digest.hex,
                modules: inspection.modules.map { Module(name: $0.name, rank: $0.rank, singularValues: $0.singularValues,
                                                         ranks: $0.ranks, energy: $0.energy) },
                candidates: inspection.candidates)))
        }

        t.addNamed(.get, "/v1/adapters/:ref/spectrum.svg", access: .scope(.read)) { [self] request, caller in
            let r = try await record(request, caller)
            let inspection = try inspections.inspection(r)
            let maxRank = inspection.modules.map(\.rank).max() ?? 1
            let marks = [1, 8, 16, 32, 64, 128, 256, 320, 512].filter { $0 <= maxRank }
            // Addressed by digest, the plot names only the digest, so its bytes never change and it is
            // immutable; addressed by a name, it shows the name, which can move: it revalidates.
            let byDigest = request.pathParameters["ref"] == r.digest.hex
            let label = byDigest ? String(r.digest.hex.prefix(12)) : (request.pathParameters["ref"] ?? "")
            let title = label + " — \(inspection.modules.count) modules"
            let svg = Array(SpectrumSVG.render(title: title, spectra: inspection.modules.map { ($0.name, $0.singularValues) }, marks: marks).utf8)
            let etag = "\"" + (try SHA256.hash(svg)).hex + "\""
            var response = HTTPResponse.segments([.bytes(svg)], contentType: "image/svg+xml", etag: etag, request: request)
            response.headers["Cache-Control"] = Self.cacheControl(request, r)
            return response
        }
    }
}
