import ArgumentParser
import Foundation
import Logging
import Service
import Store

/// `lora-squeeze token create|list|revoke|generate`: the token API's operations on a data directory
/// directly, safe beside a running server (a revocation is seen by it within 5 s).
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke the service's access tokens (works on --data or --catalog, beside a running server).",
        subcommands: [Create.self, List.self, Revoke.self, Generate.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token and print it (the only time it is shown).")

        @OptionGroup var storage: StorageOptions
        @Option(help: "What the token is for: 1 to 64 characters of A-Z a-z 0-9 . _ -")
        var name: String
        @Option(help: "read, write or admin (each includes the ones before it).")
        var scope: String
        @Option(help: "Limit the token to adapters named <namespace>/… .")
        var namespace: String?
        @Option(name: .customLong("expires-in"), help: "Lifetime: 90d, 12h, 30m, 3600s (up to 3650d). [default: never expires]")
        var expiresIn: String?
        @Flag(help: "Print the token's description as JSON, with the token.")
        var json = false

        func run() throws {
            guard let scope = TokenScope(rawValue: scope) else { throw ValidationError("--scope must be read, write or admin") }
            let lifetime = try expiresIn.map { text in
                guard let lifetime = TokenLifetime(text) else { throw ValidationError("--expires-in \(text) must be \(TokenLifetime.forms)") }
                return lifetime
            }
            let catalog = try storage.open(label: "lora-squeeze.token")
            defer { catalog.close() }
            let (token, record) = try TokenIssuer.issue(in: catalog, name: name, scope: scope, namespace: namespace, lifetime: lifetime)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(CreatedToken(token: token, record: record)), as: UTF8.self))
            } else {
                print(token)
                FileHandle.standardError.write(Data("token \(record.id) (\(record.name), \(record.scope.rawValue)\(record.namespace.map { ", namespace \($0)" } ?? "")\(record.expiresAt.map { ", expires \(ISO8601DateFormatter().string(from: $0))" } ?? "")): store it now, it is not shown again\n".utf8))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets), newest first.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "Only tokens of this namespace.")
        var namespace: String?
        @Flag(help: "Print {\"items\": [...]} as the API does.")
        var json = false

        func run() throws {
            let catalog = try storage.open(label: "lora-squeeze.token")
            defer { catalog.close() }
            let items = try catalog.tokens(namespace: namespace).map { TokenDescription($0) }
            if json {
                struct Page: Encodable { let items: [TokenDescription] }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(Page(items: items)), as: UTF8.self))
                return
            }
            print(["ID", "NAME", "SCOPE", "NAMESPACE", "STATE", "CREATED", "EXPIRES", "LAST USED"].joined(separator: "\t"))
            for t in items {
                print([t.id, t.name, t.scope, t.namespace ?? "-", t.state, t.createdAt, t.expiresAt ?? "never", t.lastUsedAt ?? "never"]
                    .joined(separator: "\t"))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token by id (a running server stops accepting it within 5 s).")

        @OptionGroup var storage: StorageOptions
        @Argument(help: "The token's id (16 hex characters, from `token list`).")
        var id: String

        func run() throws {
            let tokenID: TokenID
            do { tokenID = try TokenID(validating: id) } catch { throw ValidationError("\(error)") }
            let catalog = try storage.open(label: "lora-squeeze.token")
            defer { catalog.close() }
            do {
                let record = try catalog.revokeToken(tokenID)
                print("revoked \(record.id) (\(record.name))")
            } catch CatalogError.unknownToken {
                throw ValidationError("no token \(tokenID)")
            }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random token, recorded nowhere: for a Secret given to serve as LORA_SQUEEZE_ADMIN_TOKEN or --admin-token-file.")

        func run() { print(TokenIssuer.generate()) }
    }
}
