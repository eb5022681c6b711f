#!/usr/bin/env escript
%% Writes a realistic build request, as the WorkflowOrchestrator publishes it to the builder queue, to the file
%% named by the first argument: `escript scripts/etf-example.escript examples/etf/build-request.etf`.
%% The orchestrator merges the workflow's 20 fields with the request's 15 into one atom-keyed map
%% (OrchestratorRequest.to_payload/1) and sends term_to_binary of it.
-mode(compile).

main([Out]) ->
    Id = <<"aecc9150-6c0c-11e5-8b8a-0242ac110002">>,
    Workflow = #{
        id => Id,
        workflow_id => nil,
        deployment_repo => <<"myorg/myapp_docker">>,
        deployment_repo_git_ref => <<"master">>,
        source_repo => <<"myorg/myapp">>,
        source_repo_git_ref => <<"master">>,
        source_commit_hash => nil,
        milestones => [<<"config">>, <<"build">>, <<"deploy">>],
        current_step => build,
        elapsed_step_time => nil,
        elapsed_workflow_time => <<"41 second(s)">>,
        workflow_duration => nil,
        workflow_step_durations => #{<<"config">> => <<"38 second(s)">>},
        workflow_error => false,
        workflow_completed => false,
        workflow_start_time => {1444, 140992, 115862},
        step_time => {1444, 141030, 482117},
        event_log => [
            <<"[OA][", Id/binary, "] Starting workflow...">>,
            <<"[OA][", Id/binary, "] Dispatching request to Builder for milestone config...">>,
            <<"[OA][", Id/binary, "] Milestone config completed in 38 second(s)">>,
            <<"[OA][", Id/binary, "] Dispatching request to Builder for milestone build...">>
        ],
        scheduled_start_time => nil,
        execute_options => #{<<"force_build">> => false}
    },
    Request = #{
        force_build => false,
        build_messaging_exchange_id => nil,
        deploy_messaging_exchange_id => nil,
        orchestration_queue_name => <<"workflow_orchestration">>,
        workflow_orchestration_exchange_id => <<"1">>,
        workflow_orchestration_broker_id => <<"1">>,
        notifications_exchange_id => <<"1">>,
        notifications_broker_id => <<"1">>,
        docker_build_etcd_token => <<"3c1d0bd1d7a34fb2aaf0b5b1bb1b3a42">>,
        etcd_token => nil,
        deployable_units => nil,
        notifications_config => #{<<"hipchat">> => #{<<"room_names">> => [<<"Deployments">>]}},
        fleet_config => nil,
        aws_config => nil,
        ecs_task_definition => nil
    },
    ok = file:write_file(Out, term_to_binary(maps:merge(Workflow, Request))),
    halt(0).
