/// `/ui/sign-in`: a token in, a session cookie out.
struct SignInPage {
    let next: String
    let error: String?

    func render(_ context: DashboardContext) -> HTML {
        let error: HTML = self.error.map { "<p class=\"error\" role=\"alert\" id=\"sign-in-error\">\($0)</p>" } ?? ""
        guard context.authEnabled else {
            return DashboardLayout.page(title: "Sign in", section: nil, context: context, """
                <h1>Sign in</h1>
                <p>Authentication is off on this server (<code>--auth off</code>): there is nothing to sign in to. <a href="/ui/adapters">See the adapters</a>.</p>
                """)
        }
        return DashboardLayout.page(title: "Sign in", section: nil, context: context, """
            <h1>Sign in</h1>
            \(error)
            <form class="sign-in" method="post" action="/ui/sign-in">
            \(context.csrfField)<input type="hidden" name="next" value="\(next)">
            <label for="token">Access token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required placeholder="lsq_…" spellcheck="false" aria-describedby="token-help">
            <p id="token-help" class="note">A token made with <code>lora-squeeze token create</code> or <code>POST /v1/tokens</code>. A read token sees everything; starting jobs needs a write token. The session lasts 12 hours at most, never past the token's expiry, and ends when the token is revoked.</p>
            <button type="submit">Sign in</button>
            </form>
            """)
    }

    /// Where to go after signing in: a dashboard path only (never another site: `//evil`, `/\\evil`).
    static func safeNext(_ text: String?) -> String {
        guard let text, text.hasPrefix("/ui/"), !text.hasPrefix("//"),
              text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) else { return "/ui/adapters" }
        return text
    }
}
