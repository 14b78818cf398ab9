package cli

// WebhookBase exposes webhookBase (install-webhook's --url) to the tests of package cli_test.
var WebhookBase = webhookBase
