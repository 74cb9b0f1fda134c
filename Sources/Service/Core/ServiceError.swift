#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AdapterFormats
import HTTPServer
import SqueezeEngine
import Store

/// Maps the layers' errors to HTTP problems (RFC 9457) with stable types and details that name
/// the field, tensor or module at fault.
enum ServiceError {
    static func http(_ error: any Error) -> HTTPError {
        if let full = insufficientStorage(error) { return full }
        switch error {
        case let e as HTTPError:
            return e
        case is CancellationError:
            // The client went away (or the server is stopping): nobody reads this answer. nginx logs 499.
            return HTTPError(HTTPStatus(499, "Client Closed Request"), type: "cancelled",
                             detail: "the request was cancelled before it finished")
        case let e as BlobDamaged:
            return HTTPError(.internalServerError, type: "blob-damaged",
                             detail: "a stored file of adapter \(e.adapter.hex)\(e.blob.map { " (blob \($0.hex))" } ?? "") does not match its SHA-256; it was quarantined and the adapter's files are not served until the same content is uploaded again")
        case let e as StoredFileError:
            return HTTPError(.internalServerError, type: "storage",
                             detail: "stored \(e.what) \(e.digest.hex) cannot be read back; an operator should run a scrub")
        case let e as BaseDamaged:
            return HTTPError(.internalServerError, type: "blob-damaged",
                             detail: "a stored file of base model \(e.base.hex)\(e.blob.map { " (blob \($0.hex))" } ?? "") does not match its SHA-256; it was quarantined and the base is not served or merged until the same content is uploaded again")
        case let e as ModelDirectoryError:
            return HTTPError(.unprocessableContent, type: "invalid-model", detail: e.description)
        case let e as ModelExtractionError:
            if case .invalidOptions = e { return HTTPError(.badRequest, type: "invalid-options", detail: e.description) }
            return HTTPError(.unprocessableContent, type: "model-mismatch", detail: e.description)
        case let e as ModelMergeError:
            return HTTPError(.unprocessableContent, type: "base-mismatch", detail: e.description)
        case let e as AdapterError:
            return HTTPError(.unprocessableContent, type: "invalid-adapter", detail: e.description)
        case let e as SafetensorsError:
            return HTTPError(.unprocessableContent, type: "invalid-safetensors", detail: e.description)
        case let e as AdapterSqueezeError:
            switch e {
            case .invalidOptions: return HTTPError(.badRequest, type: "invalid-options", detail: e.description)
            default: return HTTPError(.unprocessableContent, type: "invalid-adapter", detail: e.description)
            }
        case let e as MultipartError:
            return HTTPError(.badRequest, type: "invalid-multipart", detail: e.description)
        case let e as TarError:
            return HTTPError(.badRequest, type: "invalid-tar", detail: e.description)
        case let e as CatalogError:
            switch e {
            case .unknownReference, .unknownAdapter, .unknownJob, .unknownCacheEntry, .unknownToken, .unknownBase:
                return HTTPError(.notFound, type: "not-found", detail: e.description)
            case .tooManyJobs:
                var refused = HTTPError(.tooManyRequests, type: "too-many-jobs", detail: e.description)
                refused.headers["Retry-After"] = "30"
                return refused
            case .invalidReference, .invalidQuery, .invalidJobID, .invalidCacheKey, .invalidBudget, .invalidJobKind, .invalidTokenID:
                return HTTPError(.badRequest, type: "invalid-request", detail: e.description)
            case .invalidToken:
                return HTTPError(.badRequest, type: "invalid-token-request", detail: e.description)
            case .duplicateToken:
                return HTTPError(.conflict, type: "duplicate-token", detail: e.description)
            case .baseInUse:
                return HTTPError(.conflict, type: "base-in-use", detail: e.description)
            case .missingBlob:
                // A blob this request committed was removed before its row was written: on a shared
                // blob directory, another replica deleted the last adapter using the same content at
                // that instant. Nothing was stored; the same request again succeeds.
                var refused = HTTPError(.serviceUnavailable, type: "concurrent-delete",
                                        detail: "a file this request stored was removed by a concurrent delete of the same content; nothing was stored, send the request again")
                refused.headers["Retry-After"] = "1"
                return refused
            case .namesOutsideNamespace, .baseNamesOutsideNamespace:
                return HTTPError(.forbidden, type: "outside-namespace", detail: e.description)
            default:
                return HTTPError(.internalServerError, type: "storage", detail: e.description)
            }
        case let e as PostgresError where e.isUnavailable || e.sqlState == "55P03":
            // The shared catalog is down, unreachable, or another replica held its write turn past
            // the lock timeout: nothing was stored; a retry later may succeed.
            var refused = HTTPError(.serviceUnavailable, type: "catalog-unavailable",
                                    detail: "the catalog database is unavailable or busy; nothing was stored, try again shortly")
            refused.headers["Retry-After"] = "5"
            return refused
        case let e as AdapterNameError:
            return HTTPError(.badRequest, type: "invalid-name", detail: e.description)
        case let e as SHA256DigestError:
            return HTTPError(.badRequest, type: "invalid-digest", detail: "\(e)")
        default:
            // Unexpected failures are logged with the request id; their text stays out of the response.
            return HTTPError(.internalServerError, type: "internal-error",
                             detail: "an internal error occurred; the server log has the details under this request id")
        }
    }

    /// ENOSPC or EDQUOT from the blob store, or a full disk under the catalog, anywhere: 507.
    static func insufficientStorage(_ error: any Error) -> HTTPError? {
        let full: Bool
        switch error {
        case let BlobStoreError.system(_, _, code): full = code == ENOSPC || code == EDQUOT
        case let e as SQLiteError: full = e.primaryCode == 13   // SQLITE_FULL
        case let e as PostgresError: full = e.isDiskFull        // SQLSTATE 53100
        case let SafetensorsError.io(_, reason): full = reason.contains(String(cString: strerror(ENOSPC)))
        default: full = false
        }
        guard full else { return nil }
        return HTTPError(.insufficientStorage, type: "insufficient-storage",
                         detail: "the server's disk is full; nothing was stored, try again later")
    }

    static func badRequest(_ detail: String, type: String = "invalid-request") -> HTTPError {
        HTTPError(.badRequest, type: type, detail: detail)
    }
}
