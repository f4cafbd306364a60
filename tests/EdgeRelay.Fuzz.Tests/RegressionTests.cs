using EdgeRelay.Fuzz.Targets;

namespace EdgeRelay.Fuzz.Tests;

/// <summary>
/// The crashes fuzzing found, each by name, minimised by hand from AFL++'s input (the corpus replay runs
/// them too). Each failed on the code before its fix.
/// </summary>
public sealed class RegressionTests
{
    private static byte[] Input(string target, string name) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "regressions", target, name));

    /// <summary>
    /// turn, 2026-12-02: an authenticated Allocate, then a Refresh with the Allocate's transaction ID, got the
    /// cached Allocate success (RFC 8489 §6.3.1 caches answers for retransmissions, and a Refresh is none).
    /// </summary>
    [Fact]
    public void Turn_a_request_reusing_a_transaction_id_with_another_method_is_not_answered_from_the_response_cache() =>
        TurnTarget.Run(Input("turn", "response-cache-answers-another-method"));

    /// <summary>
    /// turn, 2026-12-02: an Allocate without MESSAGE-INTEGRITY reusing the transaction ID of an authenticated
    /// Allocate got the cached success instead of a 401.
    /// </summary>
    [Fact]
    public void Turn_a_request_without_credentials_reusing_a_transaction_id_is_not_answered_from_the_response_cache() =>
        TurnTarget.Run(Input("turn", "response-cache-answers-without-credentials"));
}
