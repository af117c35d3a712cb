version 1.0

workflow scatter200 {
  input {
    Int shards = 200
  }
  scatter (i in range(shards)) {
    call echo_i { input: i = i }
  }
  output {
    Array[File] parts = echo_i.part
  }
}

task echo_i {
  input {
    Int i
  }
  command <<<
    echo ~{i} > part.txt
  >>>
  output {
    File part = "part.txt"
  }
}
