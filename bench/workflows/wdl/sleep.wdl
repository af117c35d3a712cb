version 1.0

workflow sleep_once {
  input {
    Int seconds = 5
  }
  call nap { input: seconds = seconds }
  output {
    File done = nap.done
  }
}

task nap {
  input {
    Int seconds
  }
  command <<<
    sleep ~{seconds}
    echo done > done.txt
  >>>
  output {
    File done = "done.txt"
  }
}
