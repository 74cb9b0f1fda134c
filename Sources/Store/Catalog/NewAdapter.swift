/// What `AdapterCatalog.put` needs to store an adapter whose blobs are already committed.
public struct NewAdapter: Hashable, Sendable {
    public var digest: SHA256Digest
    public var format: AdapterFormat
    public var configBlob: SHA256Digest?
    public var weightsBlob: SHA256Digest
    public var baseModel: String?
    public var moduleCount: Int
    public var descriptionJSON: String

    public init(digest: SHA256Digest, format: AdapterFormat, configBlob: SHA256Digest?, weightsBlob: SHA256Digest,
                baseModel: String? = nil, moduleCount: Int, descriptionJSON: String = "{}") {
        self.digest = digest
        self.format = format
        self.configBlob = configBlob
        self.weightsBlob = weightsBlob
        self.baseModel = baseModel
        self.moduleCount = moduleCount
        self.descriptionJSON = descriptionJSON
    }
}
