# The state store: a Firestore database in native mode, unless an existing one is passed
# (create_firestore_database = false and firestore_database_id = its id).
#
# A dedicated database by default, so the poller neither collides with a "(default)" database
# the project may already have nor shares one with other workloads; the runtime service account
# can then be restricted to it (see iam.tf).

resource "google_firestore_database" "main" {
  count = var.create_firestore_database ? 1 : 0

  name                              = var.firestore_database_id
  location_id                       = coalesce(var.firestore_location_id, var.region)
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = var.firestore_point_in_time_recovery_enabled ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"

  # The state is what keeps each operation published once: `terraform destroy` leaves the
  # database in place (delete it yourself if you mean to).
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.main]
}
