# Identities and every grant.

# --- The function's runtime account -----------------------------------------------------------

resource "google_service_account" "runtime" {
  account_id   = "${var.name}-run"
  display_name = "${var.name} runtime"
  description  = "The ${var.name} function runs as this account: dedupe markers in Firestore, issue model deployment."

  depends_on = [google_project_service.main]
}

# DeployIssueModel needs contactcenterinsights.issueModels.deploy, GetIssueModel
# contactcenterinsights.issueModels.get. The narrowest predefined role holding the first,
# roles/contactcenterinsights.editor, also writes every Insights resource of the project; this
# custom role holds the two permissions only.
resource "google_project_iam_custom_role" "issue_model_deployer" {
  project     = var.project
  role_id     = "${replace(var.name, "-", "_")}_issue_model_deployer"
  title       = "Insights issue model deployer (${var.name})"
  description = "Read and deploy Contact Center AI Insights issue models, nothing else."
  permissions = [
    "contactcenterinsights.issueModels.deploy",
    "contactcenterinsights.issueModels.get",
  ]

  depends_on = [google_project_service.main]
}

resource "google_project_iam_member" "runtime_issue_model_deployer" {
  project = var.project
  role    = google_project_iam_custom_role.issue_model_deployer.name
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# The markers, in var.firestore_database only.
resource "google_project_iam_member" "runtime_firestore_user" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runtime.email}"

  condition {
    title       = "${var.name}-database"
    description = "Only the database of the ${var.name} dedupe markers."
    expression  = "resource.name == \"projects/${var.project}/databases/${var.firestore_database}\""
  }
}

# --- The push subscription's account ----------------------------------------------------------

resource "google_service_account" "push" {
  account_id   = "${var.name}-push"
  display_name = "${var.name} push"
  description  = "Pub/Sub pushes the Insights poller's events to the ${var.name} function with OIDC tokens of this account."

  depends_on = [google_project_service.main]
}

# It invokes the function's Cloud Run service, and nothing else.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.subscriber.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# --- The Pub/Sub service agent ----------------------------------------------------------------

# Dead lettering: the service agent publishes the messages it gives up on to the dead-letter
# topic...
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

# ...and acknowledges them on the subscription it forwarded them from.
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project
  subscription = google_pubsub_subscription.subscriber.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Push authentication: the service agent makes the push account's OIDC tokens. Projects that
# enabled Pub/Sub after 8 April 2021 have this already; granted on this one account only.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
