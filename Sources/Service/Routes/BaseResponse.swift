import Foundation
import Store

/// A base model as the API describes it (`GET /v1/bases/{ref}`, upload responses, list items).
struct BaseResponse: Encodable {
    struct File: Encodable {
        let path: String
        let size: Int64
        let sha256: String
        let url: String
    }

    let digest: String
    let names: [String]
    let createdAt: String
    let bytes: Int64
    let tensorCount: Int
    let files: [File]
    let description: ValidatedBase.Description?
    let damaged: Bool?

    init(_ b: BaseRecord) {
        digest = b.digest.hex
        names = b.names.map(\.description)
        createdAt = b.createdAt.formatted(.iso8601)
        bytes = b.totalBytes
        tensorCount = b.tensorCount
        files = b.files.map { File(path: $0.path, size: $0.size, sha256: $0.blob.hex, url: "/v1/bases/\(b.digest.hex)/files/\($0.path)") }
        description = try? JSONDecoder().decode(ValidatedBase.Description.self, from: Data(b.descriptionJSON.utf8))
        damaged = b.damaged ? true : nil
    }
}
