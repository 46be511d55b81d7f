"""Running the whole stack on one machine: moto as the AWS stand-in, chalice local, a worker."""
