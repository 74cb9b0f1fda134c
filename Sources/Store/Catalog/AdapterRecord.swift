import Foundation

/// An adapter as the catalog stores it. Immutable once stored, except for the names pointing at it.
public struct AdapterRecord: Hashable, Sendable {
    /// The digest of the adapter's canonical content, as computed by the caller; its identity.
    public var digest: SHA256Digest
    public var format: AdapterFormat
    /// The `adapter_config.json` blob (nil for kohya).
    public var configBlob: SHA256Digest?
    /// The weights blob (`adapter_model.safetensors`, or kohya's file).
    public var weightsBlob: SHA256Digest
    public var baseModel: String?
    public var moduleCount: Int
    /// Sum of the config and weights blob sizes.
    public var totalBytes: Int64
    /// JSON text describing the adapter, chosen by the caller and opaque to the store.
    public var descriptionJSON: String
    public var createdAt: Date
    /// Names currently pointing at this adapter, sorted.
    public var names: [AdapterName]
    /// A blob of this adapter failed verification and was quarantined (`AdapterCatalog.quarantine`):
    /// its files must not be served until the same content is uploaded again.
    public var damaged: Bool = false
}
