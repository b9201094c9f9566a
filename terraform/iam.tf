# Identities and every grant of this configuration, each on the narrowest resource the API
# allows. No basic role (owner, editor, viewer), no allUsers / allAuthenticatedUsers, and only
# additive *_iam_member resources (nothing here replaces a policy others manage).
# tests/unit/terraform/test_terraform.py holds this file to exactly these grants. A resource that is the only
# one of its type is named `main`; the comment above it says what it grants.

# --- Identities -------------------------------------------------------------------------------

resource "google_service_account" "runtime" {
  account_id   = "${var.name}-run"
  display_name = "${var.name} runtime"
  description  = "The ${var.name} function runs as this account: reads Insights operations, keeps state in Firestore, publishes events."

  depends_on = [google_project_service.main]
}

resource "google_service_account" "invoker" {
  account_id   = "${var.name}-invoker"
  display_name = "${var.name} invoker"
  description  = "Cloud Scheduler calls the ${var.name} function with an OIDC token of this account."

  depends_on = [google_project_service.main]
}

resource "google_service_account" "build" {
  account_id   = "${var.name}-build"
  display_name = "${var.name} build"
  description  = "Cloud Build builds the ${var.name} function's image as this account."

  depends_on = [google_project_service.main]
}

# --- Runtime ----------------------------------------------------------------------------------

# Insights: the predefined roles/contactcenterinsights.viewer also reads every conversation,
# transcript and analysis in the project. The poller needs to read operations only, so it gets a
# custom role with exactly the two permissions behind ListOperations and GetOperation. Insights
# has no resource-level IAM for operations: the grant is on the project. Permission names: IAM's
# "Conversational Insights roles and permissions" reference
# (https://cloud.google.com/iam/docs/roles-permissions/contactcenterinsights) and Insights' "Get
# long-running operations" page, which names contactcenterinsights.operations.get for polling.
resource "google_project_iam_custom_role" "main" {
  role_id     = "${replace(var.name, "-", "_")}_insights_operations_reader"
  title       = "Insights operations reader (${var.name})"
  description = "Read Contact Center AI Insights long-running operations, nothing else."
  permissions = [
    "contactcenterinsights.operations.get",
    "contactcenterinsights.operations.list",
  ]

  depends_on = [google_project_service.main]
}

resource "google_project_iam_member" "runtime_insights_operations_reader" {
  project = var.project_id
  role    = google_project_iam_custom_role.main.name
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# Firestore: roles are granted on the project, and an IAM condition on the database name (the
# per-database access control Firestore documents for multiple databases) restricts this one to
# the poller's database.
resource "google_project_iam_member" "runtime_firestore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runtime.email}"

  condition {
    title       = "${var.name}-state-database"
    description = "Only the ${var.name} state database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${local.firestore_database_id}\""
  }
}

resource "google_pubsub_topic_iam_member" "runtime_events_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# --- Subscribers -------------------------------------------------------------------------------

# Each of var.subscriber_members may attach subscriptions to the events topic, from this project
# or another. Creating a subscription takes pubsub.subscriptions.create in the project it is
# created in (the subscriber's own) and pubsub.topics.attachSubscription on the topic (Pub/Sub
# access control, "Required permissions", projects.subscriptions.create: a subscription in
# project A to a topic in project B needs both,
# https://cloud.google.com/pubsub/docs/access-control). roles/pubsub.subscriber holds the
# latter; granted on the topic, it reaches nothing else of this project (its consume permission
# acts on subscriptions, which do not inherit the topic's policy). Nothing is granted on the
# example subscription: a subscriber sharing it would take messages from it (each message goes
# to one of a subscription's subscribers), so each creates its own.
resource "google_pubsub_topic_iam_member" "events_subscribers" {
  for_each = toset(var.subscriber_members)

  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.subscriber"
  member  = each.value
}

# --- Invoker ----------------------------------------------------------------------------------

# A 2nd gen function is served by a Cloud Run service: invoking it needs roles/run.invoker on
# that service (roles/cloudfunctions.invoker does not reach it). service_config[0].service is the
# service's full name, so the grant follows whatever service the function is deployed to.
resource "google_cloud_run_v2_service_iam_member" "main" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.main.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# --- Build ------------------------------------------------------------------------------------

# Cloud Build writes its logs to Cloud Logging: there is no narrower resource to grant this on.
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

# The build pushes the image to the function's repository only.
resource "google_artifact_registry_repository_iam_member" "main" {
  project    = var.project_id
  location   = google_artifact_registry_repository.main.location
  repository = google_artifact_registry_repository.main.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

# The build reads the source archive from the source bucket only.
resource "google_storage_bucket_iam_member" "main" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# ...but Cloud Functions first copies the archive into Google-managed buckets
# (gcf-v2-sources-<project number>-<region>, gcf-v2-uploads-*, run-sources-*) and the build reads
# it from there: a custom build service account needs object read on those (Cloud Run docs,
# "Configure the build service account", https://cloud.google.com/run/docs/configuring/services/build-service-account;
# the failure without it: hashicorp/terraform-provider-google#20571, "Access to bucket
# gcf-v2-sources-... denied"). They do not exist before the first deploy, so the grant is on the
# project, limited by an IAM condition to bucket names with those prefixes (Cloud Storage
# resource names in conditions: projects/_/buckets/BUCKET[/objects/OBJECT]).
resource "google_project_iam_member" "build_source_reader" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "Function source buckets only"
    description = "The buckets Cloud Functions copies function sources into."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\") || resource.name.startsWith(\"projects/_/buckets/gcf-v2-uploads-\") || resource.name.startsWith(\"projects/_/buckets/run-sources-\")"
  }
}

# --- Pub/Sub service agent (dead-lettering of the example subscription) ------------------------

# The service agent publishes undeliverable messages to the dead-letter topic...
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  count = var.create_example_subscription ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

# ...and acknowledges them on the example subscription it forwarded them from.
resource "google_pubsub_subscription_iam_member" "main" {
  count = var.create_example_subscription ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.example[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
