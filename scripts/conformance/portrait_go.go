// Every AI Portrait guide flow, run by the unmodified official Go SDK against the emulator.
// Not part of the test suite (it needs Go and a checkout of the SDK). By hand:
//
//	git clone https://github.com/aliyun/aliyun-pai-aiservice-go-sdk sdk && mkdir -p sdk/cmd/emucheck
//	cp scripts/conformance/portrait_go.go sdk/cmd/emucheck/main.go
//	(cd sdk && go build -o /tmp/emucheck ./cmd/emucheck)
//	python -m speedpix_async.emulator --port 8799 --time-scale 0.02 &
//	/tmp/emucheck http://127.0.0.1:8799 demo-portrait-app-id demo-portrait-token
//
// It prints "ALL OK" when every call succeeded and the two expected errors came back.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"

	aiservice "github.com/aliyun/aliyun-pai-aiservice-go-sdk"
)

func must(err error, what string) {
	if err != nil {
		fmt.Println("FAIL", what, err)
		os.Exit(1)
	}
}

func train(client *aiservice.APIClient, base string, person int) string {
	images := []string{}
	for n := 0; n < 3; n++ {
		images = append(images, fmt.Sprintf("%s/_emulator/samples/portrait-%d-%d.jpg", base, person, n))
	}
	check, err := client.AIGCApi.AigcImageCheck(images, "", nil)
	must(err, "check")
	for _, r := range check.Data.CheckResults {
		fmt.Println("check", r.Code, r.Frontal, r.Message)
	}
	trained, err := client.AIGCApi.AigcImagesTrain(images, "", nil)
	must(err, "train")
	fmt.Println("train job", trained.Data.JobId, "model", trained.Data.ModelId)
	for {
		job, err := client.JobApi.GetAsyncJobWithId(int32(trained.Data.JobId))
		must(err, "job")
		if job.Data.Job.State == 2 {
			var result map[string]interface{}
			must(json.Unmarshal([]byte(job.Data.Job.Result), &result), "result json")
			fmt.Println("job done, result model_id", result["model_id"])
			return trained.Data.ModelId
		}
		if job.Data.Job.State == 3 {
			fmt.Println("FAIL job failed", job.Data.Job.Message)
			os.Exit(1)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func image(encoded string, what string) {
	data, err := base64.StdEncoding.DecodeString(encoded)
	must(err, what+" base64")
	fmt.Printf("%s: %d bytes, header %q\n", what, len(data), data[:4])
}

func main() {
	base, appId, token := os.Args[1], os.Args[2], os.Args[3]
	client := aiservice.NewClient(base, appId, token)
	first := train(client, base, 0)
	second := train(client, base, 2)
	created, err := client.AIGCApi.AigcImagesCreate(first, base+"/_emulator/samples/template-1.jpg", "", map[string]interface{}{"lora_weights": 0.9, "first_denoising_strength": 1})
	must(err, "create")
	image(created.Data.Image, "single")
	group, err := client.AIGCApi.AigcImagesCreateByMultiModelIds([]string{first, second}, base+"/_emulator/samples/template-2.jpg", "", nil)
	must(err, "group")
	image(group.Data.Image, "group")
	ref, err := client.AIGCApi.AigcImagesCreate("", base+"/_emulator/samples/template-1.jpg", "", map[string]interface{}{"ipa_control_only": true, "ipa_image_path": base + "/_emulator/samples/portrait-4-0.jpg"})
	must(err, "reference only")
	image(ref.Data.Image, "reference-only")
	t2i, err := client.AIGCApi.AigcImagesCreate(first, "t2i_generate", "", map[string]interface{}{"t2i_prompt": "a garden"})
	must(err, "t2i")
	image(t2i.Data.Image, "t2i")
	xl, err := client.AIGCApi.AigcImagesTrain([]string{base + "/_emulator/samples/portrait-1-0.jpg", base + "/_emulator/samples/portrait-1-1.jpg"}, "train_xl", nil)
	must(err, "train xl")
	fmt.Println("xl job", xl.Data.JobId)
	_, err = client.AIGCApi.AigcImagesCreateByMultiModelIds([]string{first, second}, base+"/_emulator/samples/template-1.jpg", "", nil)
	if err == nil || err.Error() != "http status code error:469" {
		fmt.Println("FAIL face-count mismatch should be HTTP 469, got", err)
		os.Exit(1)
	}
	fmt.Println("mismatch error (expected):", err)
	bad := aiservice.NewClient(base, appId, "wrong-token")
	_, err = bad.AIGCApi.AigcImageCheck([]string{base + "/_emulator/samples/portrait-0-0.jpg"}, "", nil)
	if err == nil || err.Error() != "http status code error:401" {
		fmt.Println("FAIL a wrong token should be HTTP 401, got", err)
		os.Exit(1)
	}
	fmt.Println("wrong token error (expected):", err)
	fmt.Println("ALL OK")
}
