# Mock values of the google provider shared by every test file: the project number is what
# data.google_project returns, and what the function's environment must carry.
mock_data "google_project" {
  defaults = {
    number = "123456789012"
  }
}
