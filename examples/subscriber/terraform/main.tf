# The subscriber example as a Cloud Function (2nd gen), fed by a Pub/Sub push subscription on the
# poller's events topic, with a dead-letter topic for the messages it keeps failing.
#
# A root module of its own: it knows the poller only by its topic (var.topic). Files: main.tf
# (APIs, source, function), pubsub.tf (subscription, dead-letter topic), iam.tf (identities and
# every grant).
#
# Why a push subscription and not an Eventarc trigger: Eventarc creates and owns its trigger's
# subscription (output only in its API), so no dead-letter policy can be set on it here.

data "google_project" "main" {
  project_id = var.project

  depends_on = [google_project_service.main]
}

locals {
  topic = startswith(var.topic, "projects/") ? var.topic : "projects/${var.project}/topics/${var.topic}"

  # Moves undeliverable messages to the dead-letter topic, and signs the push requests' tokens.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.main.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # The APIs the subscriber and its deployment use; left enabled on destroy (others may use them).
  services = [
    "artifactregistry.googleapis.com",     # the function's container images
    "cloudbuild.googleapis.com",           # builds them from the source archive
    "cloudfunctions.googleapis.com",       # the function (2nd gen)
    "cloudresourcemanager.googleapis.com", # project IAM grants
    "contactcenterinsights.googleapis.com",
    "firestore.googleapis.com", # the dedupe markers
    "iam.googleapis.com",       # service accounts and the custom role
    "pubsub.googleapis.com",    # the subscription and the dead-letter topic
    "run.googleapis.com",       # 2nd gen functions run as Cloud Run services
    "storage.googleapis.com",   # the source bucket
  ]
}

resource "google_project_service" "main" {
  for_each = toset(local.services)

  project            = var.project
  service            = each.value
  disable_on_destroy = false
}

# --- Source: main.py and requirements.txt, next to this folder --------------------------------

data "archive_file" "source" {
  type             = "zip"
  output_path      = "${path.module}/.build/subscriber-source.zip"
  output_file_mode = "0644"

  source {
    content  = file("${path.module}/../main.py")
    filename = "main.py"
  }
  source {
    content  = file("${path.module}/../requirements.txt")
    filename = "requirements.txt"
  }
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project}-${var.name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.main]
}

# Named after the archive's hash: a code change uploads a new object, which redeploys.
resource "google_storage_bucket_object" "source" {
  name         = "subscriber-source-${data.archive_file.source.output_md5}.zip"
  bucket       = google_storage_bucket.source.name
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

# --- Function ---------------------------------------------------------------------------------

resource "google_cloudfunctions2_function" "subscriber" {
  name        = var.name
  location    = var.region
  description = "Reacts to the Insights poller's events: logs BigQuery exports, deploys new issue models."

  build_config {
    runtime         = "python312"
    entry_point     = "on_operation_finished"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # No event_trigger: the push subscription (pubsub.tf) POSTs each message to the function's URL;
  # functions-framework turns a Pub/Sub push body into the CloudEvent main.py reads.
  service_config {
    available_memory               = "256Mi"
    timeout_seconds                = 60 # below main.py's CLAIM_LEASE (300 s) and the ack deadline
    max_instance_count             = 10
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.runtime.email
    # Pub/Sub push from a subscription in the same project counts as internal traffic.
    ingress_settings = "ALLOW_INTERNAL_ONLY"
    environment_variables = {
      GOOGLE_CLOUD_PROJECT     = var.project
      FIRESTORE_DATABASE       = var.firestore_database
      DEDUP_COLLECTION         = var.dedup_collection
      INSIGHTS_TIMEOUT_SECONDS = "20" # two Insights calls per deployment: within the timeout
    }
  }

  depends_on = [google_project_service.main]
}

# Markers expire 30 days after their claim (the expireAt field main.py writes). The field is not
# indexed: nothing queries it, and an indexed timestamp written in order hot-spots.
resource "google_firestore_field" "marker_expiry" {
  project    = var.project
  database   = var.firestore_database
  collection = var.dedup_collection
  field      = "expireAt"

  ttl_config {}
  index_config {}

  depends_on = [google_project_service.main]
}
