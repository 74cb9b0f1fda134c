import Foundation

/// The JSON bodies of the Hub API routes, with the fields `huggingface_hub` reads (checked against
/// its `ModelInfo`, `RepoSibling` and `RepoFile` in versions 0.19.4, 1.31.0 and 2.4.0).
enum HubDocuments {
    struct LFS: Encodable {
        let size: Int64
        let sha256: String?
        let oid: String?
        let pointerSize: Int
    }

    /// A `siblings` item of the model info: `lfs` spells the digest `sha256`.
    struct Sibling: Encodable {
        let rfilename: String
        let size: Int64
        let blobId: String
        let lfs: LFS
    }

    struct ModelInfo: Encodable {
        let _id: String
        let id: String
        let modelId: String
        let author: String?
        let sha: String
        let lastModified: String
        let createdAt: String
        let `private`: Bool
        let gated: Bool
        let disabled: Bool
        let downloads: Int
        let likes: Int
        let library_name: String
        let tags: [String]
        let siblings: [Sibling]
        let usedStorage: Int64
        let cardData: CardData?
    }

    struct CardData: Encodable {
        let base_model: String
        let library_name: String
    }

    /// A `tree` listing item: `lfs` spells the digest `oid`.
    struct TreeEntry: Encodable {
        let type: String
        let oid: String
        let size: Int64
        let path: String
        let lfs: LFS
    }

    /// `merged`: the repository is a whole model (a base with an adapter merged in), which
    /// `transformers` loads, rather than an adapter for PEFT.
    static func modelInfo(_ repo: HubRepository, baseModel: String?, merged: Bool = false) -> ModelInfo {
        let time = repo.lastModifiedText
        let namespace = repo.id.firstIndex(of: "/").map { String(repo.id[..<$0]) }
        let library = merged ? "transformers" : "peft"
        let relation = merged ? "merge" : "adapter"
        return ModelInfo(
            _id: repo.commit, id: repo.id, modelId: repo.id, author: namespace, sha: repo.commit,
            lastModified: time, createdAt: time, private: repo.isPrivate, gated: false, disabled: false,
            downloads: 0, likes: 0, library_name: library,
            tags: (merged ? ["transformers", "merge", "lora-squeeze"] : ["peft", "lora", "lora-squeeze"])
                + (baseModel.map { ["base_model:\(relation):\($0)"] } ?? []),
            siblings: repo.files.map {
                Sibling(rfilename: $0.path, size: $0.pointer.size, blobId: $0.oid,
                        lfs: LFS(size: $0.pointer.size, sha256: $0.pointer.sha256.hex, oid: nil, pointerSize: $0.pointer.pointerSize))
            },
            usedStorage: repo.files.reduce(0) { $0 + $1.pointer.size },
            cardData: baseModel.map { CardData(base_model: $0, library_name: library) })
    }

    static func treeEntry(_ file: HubRepository.File) -> TreeEntry {
        TreeEntry(type: "file", oid: file.oid, size: file.pointer.size, path: file.path,
                  lfs: LFS(size: file.pointer.size, sha256: nil, oid: file.pointer.sha256.hex, pointerSize: file.pointer.pointerSize))
    }
}
