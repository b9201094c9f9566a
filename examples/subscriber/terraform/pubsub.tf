# The push subscription on the poller's topic that feeds the function, and its dead letters.

resource "google_pubsub_subscription" "subscriber" {
  name  = var.name
  topic = local.topic

  # How long Pub/Sub waits for the function's answer: above the function's timeout (60 s).
  ack_deadline_seconds       = 90
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloudfunctions2_function.subscriber.service_config[0].uri
    # A token for the function's URL (the default audience), as the push account.
    oidc_token {
      service_account_email = google_service_account.push.email
    }
  }

  # A 5xx (main.py raised: a failed reaction, a claim held elsewhere) is delivered again, with
  # backoff; after var.max_delivery_attempts the message goes to the dead-letter topic.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires, even while no message arrives
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

resource "google_pubsub_topic" "dead_letter" {
  name                       = "${var.name}-dead-letter"
  message_retention_duration = "604800s"

  depends_on = [google_project_service.main]
}

# A topic without a subscription drops what is published to it: this one keeps the dead letters
# (the original message, with attributes naming the subscription it came from), for 7 days.
resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${var.name}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}
