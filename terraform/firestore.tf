# The state store: a Firestore database in native mode, unless an existing one is used
# (create_firestore_database = false; firestore_database_id = its id, NAME if left null).
#
# A dedicated database by default, so the poller neither collides with a "(default)" database
# the project may already have nor shares one with other workloads; the runtime service account
# can then be restricted to it (see iam.tf). Its id is NAME unless firestore_database_id is set
# (main.tf), so a second deployment with another name gets its own.

resource "google_firestore_database" "main" {
  count = var.create_firestore_database ? 1 : 0

  name                              = local.configured_firestore_database_id
  location_id                       = coalesce(var.firestore_location_id, var.region)
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = var.firestore_point_in_time_recovery_enabled ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"

  # The state is what keeps each operation published once: `terraform destroy` leaves the
  # database in place (delete it yourself if you mean to). deletion_policy is the provider's own
  # setting, ABANDON by default (it drops the database from the state and deletes nothing), kept
  # because the delete protection alone would not stop a destroy: DELETE is what makes the
  # provider delete it, and refuse to while the protection is on (GoogleCloudPlatform/
  # magic-modules#9450, which added it; #14365 keeps it, ABANDON by default). Set explicitly so
  # that a change of the provider's default cannot change what a destroy does.
  #
  # So after a destroy the database still exists, and an apply with the same id fails with 409
  # "Database already exists. Please use another database_id". Import it to carry on with its
  # state (terraform/README.md, "Firestore": what was published stays published), or set another
  # firestore_database_id to start afresh.
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.main]
}
