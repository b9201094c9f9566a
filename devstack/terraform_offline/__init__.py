"""`terraform validate` and `terraform test` without downloading a provider.

`run` (``python -m devstack.terraform_offline``, `make terraform-offline`) points Terraform's
`dev_overrides` at `plugin`, a provider plugin that serves the schema of hashicorp/google,
archive and time from terraform/schema/providers.json and nothing else; the tests in
terraform/tests/ mock every provider, so the schema is all they need.
"""
